/* arena.c: the bump allocator that owns tensors, their data and graph nodes.
 * An arena is a list of blocks; allocation bumps a pointer in the current block, reset rewinds
 * every block without returning memory, so a training loop that resets its per-step arena
 * reaches a steady state with no malloc at all. */
#include "mytorch/tensor.h"
#include "mytorch/error.h"
#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 64
#define ARENA_BLOCK (1u << 20)     /* 1 MiB; a larger request gets a block of its own size */

typedef struct block {
    struct block *next;
    size_t size;                    /* usable bytes after the header */
    size_t used;
} block;

struct mt_arena {
    block *head;                    /* blocks in the order they were made */
    block *cur;                     /* the block being filled */
    size_t used;                    /* bytes handed out since the last reset */
    size_t reserved;
};

/* Per thread, like PyTorch's grad mode: each thread has its own default and current arena, so
 * two threads can build graphs (or run no-grad forwards) at once. */
static _Thread_local mt_arena *default_arena;
static _Thread_local mt_arena *current_arena;

static size_t header_size(void)
{
    return (sizeof(block) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}
static unsigned char *block_base(block *b) { return (unsigned char *)b + header_size(); }

mt_arena *mt_arena_new(void)
{
    mt_arena *a = calloc(1, sizeof *a);
    if (!a) { fprintf(stderr, "mytorch: out of memory making an arena\n"); abort(); }
    return a;
}

void mt_arena_free(mt_arena *a)
{
    if (!a) return;
    for (block *b = a->head, *next; b; b = next) { next = b->next; free(b); }
    if (current_arena == a) current_arena = NULL;
    if (default_arena == a) default_arena = NULL;
    free(a);
}

void mt_arena_reset(mt_arena *a)
{
    if (!a) return;
    for (block *b = a->head; b; b = b->next) b->used = 0;
    a->cur = a->head;
    a->used = 0;
}

void *mt_arena_alloc(mt_arena *a, size_t bytes)
{
    if (!a) a = mt_arena_current();
    /* Past this, rounding up and adding the block header would wrap around, and no allocator
     * can hand out more than PTRDIFF_MAX bytes anyway. */
    if (bytes > (size_t)PTRDIFF_MAX - header_size() - ARENA_ALIGN) {
        fprintf(stderr, "mytorch: out of memory allocating %zu bytes (more than can exist)\n",
                bytes);
        abort();
    }
    size_t need = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need == 0) need = ARENA_ALIGN;
    /* Look for room in the current block or the ones after it (kept from before a reset). */
    for (block *b = a->cur; b; b = b->next) {
        if (b->size - b->used >= need) {
            void *p = block_base(b) + b->used;
            b->used += need;
            a->cur = b;
            a->used += need;
            return p;
        }
    }
    size_t size = need > ARENA_BLOCK ? need : ARENA_BLOCK;
    block *nb = aligned_alloc(ARENA_ALIGN, header_size() + size);
    if (!nb) { fprintf(stderr, "mytorch: out of memory allocating %zu bytes\n", bytes); abort(); }
    nb->next = NULL; nb->size = size; nb->used = need;
    /* append at the end so the order of blocks matches the order of first use */
    if (!a->head) a->head = nb;
    else { block *t = a->head; while (t->next) t = t->next; t->next = nb; }
    a->cur = nb;
    a->used += need;
    a->reserved += header_size() + size;
    return block_base(nb);
}

size_t mt_arena_used(const mt_arena *a) { return a ? a->used : 0; }
size_t mt_arena_reserved(const mt_arena *a) { return a ? a->reserved : 0; }

mt_arena *mt_arena_current(void)
{
    if (current_arena) return current_arena;
    if (!default_arena) default_arena = mt_arena_new();
    current_arena = default_arena;
    return current_arena;
}

mt_arena *mt_arena_use(mt_arena *a)
{
    mt_arena *prev = mt_arena_current();
    current_arena = a ? a : default_arena;   /* NULL: back to the default arena */
    return prev;
}

/* Everything this thread holds: the engine's state, then the default arena and the error state. */
void mt_shutdown(void)
{
    mt_autograd_thread_reset();
    mt_arena_free(default_arena);
    default_arena = NULL;
    current_arena = NULL;
    mt_set_error_handler(NULL, NULL);
    mt_clear_error();
}
