/* loss.c: nn.CrossEntropyLoss (mean reduction), the fused log_softmax + NLL op of
 * src/ops/cross_entropy.c: stable for logits of any size. */
#include "mytorch/nn.h"

mt_tensor *mt_cross_entropy_loss(mt_tensor *logits, mt_tensor *labels)
{
    return mt_cross_entropy(logits, labels);
}
