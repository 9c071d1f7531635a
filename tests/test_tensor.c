/* test_tensor.c: the "tensor" suite. Creating tensors and shapes, printing them exactly as
 * PyTorch 1.13's repr() does (reference strings in fixtures/core_fixtures.h), the portable RNG
 * against an independent xoshiro256** / splitmix64, and the arenas: a training loop that resets
 * its per-step arena must keep both the arena and the process's resident memory flat. */
#include <mytorch/mytorch.h>

#include <check.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CORE_FIXTURES_TENSOR
#include "fixtures/core_fixtures.h"
#include "test_util.h"

static error_log errors; /* filled by capture_errors(&errors) */

static void expect_plain_leaf(const mt_tensor *t)
{
    ck_assert_ptr_nonnull(t);
    ck_assert(t->is_leaf && !t->requires_grad && !t->is_parameter);
    ck_assert_ptr_null(t->grad);
    ck_assert_ptr_null(t->grad_fn);
    ck_assert_ptr_null(t->accumulate);
    ck_assert_ptr_eq(t->arena, mt_arena_current());
    ck_assert(mt_tensor_check(t));
}

/* ---- shapes ---------------------------------------------------------------------------------- */

START_TEST(shape_macro_should_count_its_dimensions)
{
    mt_shape s = MT_SHAPE(3, 4);
    ck_assert_int_eq(s.ndim, 2);
    ck_assert_int_eq(s.dim[0], 3);
    ck_assert_int_eq(s.dim[1], 4);
    mt_shape v = MT_SHAPE(7);
    ck_assert_int_eq(v.ndim, 1);
    ck_assert_int_eq(v.dim[0], 7);
    mt_shape f = MT_SHAPE(1, 2, 3, 4);
    ck_assert_int_eq(f.ndim, 4);
    ck_assert_int_eq(f.dim[3], 4);
    ck_assert_int_eq(MT_SCALAR_SHAPE.ndim, 0);
}
END_TEST

START_TEST(shape_numel_and_equal_should_follow_the_dimensions)
{
    ck_assert_uint_eq(mt_shape_numel(MT_SCALAR_SHAPE), 1);
    ck_assert_uint_eq(mt_shape_numel(MT_SHAPE(5)), 5);
    ck_assert_uint_eq(mt_shape_numel(MT_SHAPE(2, 3, 4)), 24);
    ck_assert_uint_eq(mt_shape_numel(MT_SHAPE(3, 0)), 0);
    ck_assert(mt_shape_equal(MT_SHAPE(3, 4), MT_SHAPE(3, 4)));
    ck_assert(!mt_shape_equal(MT_SHAPE(3, 4), MT_SHAPE(4, 3)));
    ck_assert(!mt_shape_equal(MT_SHAPE(12), MT_SHAPE(3, 4)));
    ck_assert(!mt_shape_equal(MT_SHAPE(1), MT_SCALAR_SHAPE));
    ck_assert(mt_shape_equal(MT_SCALAR_SHAPE, MT_SCALAR_SHAPE));
}
END_TEST

START_TEST(shape_str_should_write_python_tuples)
{
    char b[64];
    ck_assert_str_eq(mt_shape_str(MT_SHAPE(3, 4), b, sizeof b), "(3, 4)");
    ck_assert_str_eq(mt_shape_str(MT_SHAPE(5), b, sizeof b), "(5,)");
    ck_assert_str_eq(mt_shape_str(MT_SCALAR_SHAPE, b, sizeof b), "()");
    ck_assert_str_eq(mt_shape_str(MT_SHAPE(1, 2, 3, 4), b, sizeof b), "(1, 2, 3, 4)");
    ck_assert_ptr_eq(mt_shape_str(MT_SHAPE(2), b, sizeof b), b);
    /* a short buffer is filled and terminated, never overrun */
    char small[5];
    memset(small, 'x', sizeof small);
    mt_shape_str(MT_SHAPE(100, 200), small, sizeof small);
    ck_assert_uint_lt(strlen(small), sizeof small);
    ck_assert(strncmp(small, "(100", strlen(small)) == 0);
}
END_TEST

/* ---- creation -------------------------------------------------------------------------------- */

START_TEST(creation_functions_should_make_plain_leaves_with_their_values)
{
    mt_tensor *z = mt_zeros(MT_SHAPE(2, 3));
    expect_plain_leaf(z);
    ck_assert(mt_shape_equal(z->shape, MT_SHAPE(2, 3)));
    ck_assert_uint_eq(z->numel, 6);
    for (int i = 0; i < 6; i++) ck_assert_double_eq(z->data[i], 0.0);

    mt_tensor *o = mt_ones(MT_SHAPE(4));
    expect_plain_leaf(o);
    for (int i = 0; i < 4; i++) ck_assert_double_eq(o->data[i], 1.0);

    mt_tensor *f = mt_full(MT_SHAPE(1, 2, 2), -2.5);
    expect_plain_leaf(f);
    ck_assert_uint_eq(f->numel, 4);
    for (int i = 0; i < 4; i++) ck_assert_double_eq(f->data[i], -2.5);

    mt_tensor *s = mt_scalar(7.25);
    expect_plain_leaf(s);
    ck_assert_int_eq(s->shape.ndim, 0);
    ck_assert_uint_eq(s->numel, 1);
    ck_assert_double_eq(mt_item(s), 7.25);

    mt_tensor *e = mt_empty(MT_SHAPE(3, 3));
    expect_plain_leaf(e);
    ck_assert_uint_eq(e->numel, 9);

    mt_tensor *zl = mt_zeros_like(f);
    expect_plain_leaf(zl);
    ck_assert(mt_shape_equal(zl->shape, f->shape));
    for (int i = 0; i < 4; i++) ck_assert_double_eq(zl->data[i], 0.0);

    /* every tensor has its own id and its own data */
    const mt_tensor *all[] = { z, o, f, s, e, zl };
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < i; j++) {
            ck_assert_uint_ne(all[i]->id, all[j]->id);
            ck_assert_ptr_ne(all[i]->data, all[j]->data);
        }
}
END_TEST

START_TEST(from_data_should_copy_the_values)
{
    double src[6] = { 1, 2, 3, 4, 5, 6 };
    mt_tensor *t = mt_from_data(MT_SHAPE(3, 2), src);
    expect_plain_leaf(t);
    src[0] = 100;
    ck_assert_double_eq(t->data[0], 1.0);
    ck_assert_double_eq(t->data[5], 6.0);
    ck_assert_ptr_ne(t->data, src);
}
END_TEST

START_TEST(copy_should_keep_requires_grad_and_detach_should_drop_it)
{
    mt_tensor *a =
        mt_set_label(mt_requires_grad(mt_from_data(MT_SHAPE(2), (double[]){ 1, 2 }), true), "a");
    mt_tensor *y = mt_mul_scalar(a, 3.0);             /* a non-leaf */

    mt_tensor *c = mt_copy(a);
    ck_assert(c->is_leaf && c->requires_grad && c->grad_fn == NULL);
    ck_assert_ptr_ne(c, a);
    ck_assert_ptr_ne(c->data, a->data);
    ck_assert_double_eq(c->data[1], 2.0);
    ck_assert_str_eq(c->label, "a");

    mt_tensor *d = mt_detach(y);
    ck_assert(d->is_leaf && !d->requires_grad && d->grad_fn == NULL);
    ck_assert_double_eq(d->data[0], 3.0);
    ck_assert_double_eq(d->data[1], 6.0);
    d->data[0] = -1;
    ck_assert_double_eq(y->data[0], 3.0);              /* a copy, not a view */

    mt_tensor *cy = mt_copy(y);                         /* a copy of a non-leaf is a new leaf */
    ck_assert(cy->is_leaf && cy->grad_fn == NULL);
    ck_assert(mt_tensor_check(cy));
    ck_assert_ptr_null(mt_copy(NULL));
    ck_assert_ptr_null(mt_detach(NULL));
}
END_TEST

START_TEST(empty_should_reject_a_negative_dimension)
{
    capture_errors(&errors);
    ck_assert_ptr_null(mt_empty(MT_SHAPE(3, -2)));
    ck_assert_int_eq(errors.count, 1);
    ck_assert_ptr_nonnull(strstr(errors.last, "(3, -2)"));
    ck_assert_ptr_null(mt_zeros(MT_SHAPE(-1)));
    ck_assert_int_eq(errors.count, 2);
}
END_TEST

START_TEST(item_should_refuse_a_tensor_of_many_elements)
{
    capture_errors(&errors);
    ck_assert_double_eq(mt_item(mt_full(MT_SHAPE(1, 1), 4.5)), 4.5);
    ck_assert_int_eq(errors.count, 0);
    ck_assert(isnan(mt_item(mt_ones(MT_SHAPE(2, 3)))));
    ck_assert_int_eq(errors.count, 1);
    ck_assert_ptr_nonnull(strstr(errors.last, "(2, 3)"));
}
END_TEST

START_TEST(fill_and_label_should_set_values_and_names)
{
    mt_tensor *t = mt_zeros(MT_SHAPE(2, 2));
    mt_fill(t, 0.75);
    for (int i = 0; i < 4; i++) ck_assert_double_eq(t->data[i], 0.75);
    mt_fill(NULL, 1.0);
    ck_assert_ptr_eq(mt_set_label(t, "weight"), t);
    ck_assert_str_eq(t->label, "weight");
    char longname[100];
    memset(longname, 'w', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    mt_set_label(t, longname);
    ck_assert_uint_eq(strlen(t->label), MT_LABEL_MAX - 1);
}
END_TEST

/* ---- printing -------------------------------------------------------------------------------- */

/* torch's repr with its backward name (e.g. "AddBackward0") replaced by the op's own. */
static void expected_repr(const cf_print_case *c, const mt_op *op, char *out, size_t n)
{
    const char *tail = strstr(c->repr, "grad_fn=<");
    if (!tail) { snprintf(out, n, "%s", c->repr); return; }
    const char *name = tail + strlen("grad_fn=<");
    const char *end = strchr(name, '>');
    ck_assert_ptr_nonnull(end);
    int len = (int)(end - name);
    /* ours is torch's name, with or without its trailing version digit */
    bool same = (int)strlen(op->backward_name) == len &&
                !strncmp(op->backward_name, name, (size_t)len);
    bool unversioned = (int)strlen(op->backward_name) == len - 1 &&
                       !strncmp(op->backward_name, name, (size_t)len - 1);
    ck_assert_msg(same || unversioned, "op %s: backward_name %s, torch says %.*s", op->name,
                  op->backward_name, len, name);
    snprintf(out, n, "%.*s%s%s", (int)(name - c->repr), c->repr, op->backward_name, end);
}

static mt_tensor *print_case_tensor(const cf_print_case *c, const mt_op **op)
{
    mt_shape s = MT_SCALAR_SHAPE;
    s.ndim = c->t.ndim;
    for (int i = 0; i < c->t.ndim; i++) s.dim[i] = c->t.dim[i];
    mt_tensor *t = mt_requires_grad(mt_from_data(s, c->t.data), c->requires_grad);
    *op = NULL;
    if (!c->op) return t;
    *op = mt_op_find(c->op);
    ck_assert_ptr_nonnull(*op);
    if (!strcmp(c->op, "add")) return mt_add(t, t);
    if (!strcmp(c->op, "mul")) return mt_mul(t, t);
    if (!strcmp(c->op, "sum")) return mt_sum(t);
    ck_abort_msg("unknown print op %s", c->op);
    return NULL;
}

START_TEST(format_should_match_pytorch_repr)
{
    const cf_print_case *c = &cf_print_cases[_i];
    const mt_op *op;
    mt_tensor *t = print_case_tensor(c, &op);
    ck_assert_ptr_nonnull(t);
    static char want[65536], got[65536];
    expected_repr(c, op, want, sizeof want);
    size_t len = mt_format(t, got, sizeof got);
    ck_assert_msg(strcmp(got, want) == 0, "%s:\n got: %s\nwant: %s", c->name, got, want);
    ck_assert_uint_eq(len, strlen(want));
}
END_TEST

START_TEST(format_should_truncate_and_return_the_full_length)
{
    mt_tensor *t = mt_from_data(MT_SHAPE(3), (double[]){ 1, 2, 3 });
    const char *full = "tensor([1., 2., 3.])";
    char b[10];
    memset(b, 'x', sizeof b);
    ck_assert_uint_eq(mt_format(t, b, sizeof b), strlen(full));
    ck_assert_str_eq(b, "tensor([1");
    ck_assert_uint_eq(mt_format(t, NULL, 0), strlen(full));
}
END_TEST

static void expect_fprint_equals_format(const mt_tensor *t)
{
    size_t len = mt_format(t, NULL, 0);
    char *want = malloc(len + 2);
    ck_assert_ptr_nonnull(want);
    mt_format(t, want, len + 1);
    strcat(want, "\n");
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    mt_fprint(f, t);
    long n = ftell(f);
    ck_assert_int_eq(n, (long)len + 1);
    rewind(f);
    char *got = malloc(len + 2);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(fread(got, 1, len + 1, f), len + 1);
    got[len + 1] = '\0';
    fclose(f);
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
}

START_TEST(fprint_should_write_the_format_and_a_newline)
{
    expect_fprint_equals_format(mt_from_data(MT_SHAPE(2), (double[]){ 0.5, -1 }));
    /* 900 elements (not summarized) make a text longer than any small stack buffer */
    mt_rng r;
    mt_rng_seed(&r, 7);
    mt_tensor *big = mt_rand(MT_SHAPE(30, 30), -1, 1, &r);
    ck_assert_uint_gt(mt_format(big, NULL, 0), 4096);
    expect_fprint_equals_format(big);
}
END_TEST

/* ---- the RNG --------------------------------------------------------------------------------- */

START_TEST(rng_should_match_reference_xoshiro256starstar)
{
    const cf_rng_case *c = &cf_rng_cases[_i];
    mt_rng r;
    mt_rng_seed(&r, c->seed);
    for (int i = 0; i < 8; i++)
        ck_assert_msg(mt_rng_next(&r) == c->next[i], "seed %llx: output %d differs",
                      (unsigned long long)c->seed, i);
    mt_rng_seed(&r, c->seed);
    for (int i = 0; i < 4; i++) ck_assert_double_eq(mt_rng_uniform(&r), c->uniform[i]);
    /* the default generator, seeded the same way, gives the same stream */
    mt_manual_seed(c->seed);
    for (int i = 0; i < 8; i++) ck_assert(mt_rng_next(mt_default_rng()) == c->next[i]);
}
END_TEST

START_TEST(rng_reseeding_should_restart_the_stream)
{
    mt_rng r;
    mt_rng_seed(&r, 12345);
    uint64_t first[4];
    for (int i = 0; i < 4; i++) first[i] = mt_rng_next(&r);
    mt_rng_seed(&r, 12345);
    for (int i = 0; i < 4; i++) ck_assert(mt_rng_next(&r) == first[i]);
    mt_rng_seed(&r, 12346);
    ck_assert(mt_rng_next(&r) != first[0]);

    mt_manual_seed(99);
    mt_tensor *a = mt_randn(MT_SHAPE(8), 0, 1, NULL);
    mt_tensor *u = mt_rand(MT_SHAPE(8), -2, 3, NULL);
    mt_manual_seed(99);
    mt_tensor *b = mt_randn(MT_SHAPE(8), 0, 1, NULL);
    mt_tensor *v = mt_rand(MT_SHAPE(8), -2, 3, NULL);
    ck_assert(memcmp(a->data, b->data, 8 * sizeof(double)) == 0);
    ck_assert(memcmp(u->data, v->data, 8 * sizeof(double)) == 0);
}
END_TEST

#define DRAWS 100000

START_TEST(uniform_should_fill_zero_to_one)
{
    mt_rng r;
    mt_rng_seed(&r, 2024);
    double sum = 0, sq = 0, lo = 1, hi = 0;
    int below_tenth = 0;
    for (int i = 0; i < DRAWS; i++) {
        double u = mt_rng_uniform(&r);
        ck_assert(u >= 0.0 && u < 1.0);
        sum += u;
        sq += u * u;
        if (u < lo) lo = u;
        if (u > hi) hi = u;
        below_tenth += u < 0.1;
    }
    double mean = sum / DRAWS, var = sq / DRAWS - mean * mean;
    ck_assert_double_eq_tol(mean, 0.5, 0.005);          /* sd of the mean: 0.0009 */
    ck_assert_double_eq_tol(var, 1.0 / 12.0, 0.002);
    ck_assert_double_lt(lo, 1e-3);
    ck_assert_double_gt(hi, 1 - 1e-3);
    ck_assert_int_gt(below_tenth, 9500);                /* 10000 expected, sd 95 */
    ck_assert_int_lt(below_tenth, 10500);
}
END_TEST

START_TEST(normal_should_have_mean_zero_and_unit_std)
{
    mt_rng r;
    mt_rng_seed(&r, 77);
    double sum = 0, sq = 0;
    int within_one = 0;
    for (int i = 0; i < DRAWS; i++) {
        double z = mt_rng_normal(&r);
        ck_assert(isfinite(z));
        sum += z;
        sq += z * z;
        within_one += fabs(z) < 1.0;
    }
    double mean = sum / DRAWS, sd = sqrt(sq / DRAWS - mean * mean);
    ck_assert_double_eq_tol(mean, 0.0, 0.015);          /* sd of the mean: 0.0032 */
    ck_assert_double_eq_tol(sd, 1.0, 0.015);
    ck_assert_double_eq_tol((double)within_one / DRAWS, 0.6827, 0.01);
}
END_TEST

START_TEST(randn_and_rand_should_scale_and_shift)
{
    mt_rng r;
    mt_rng_seed(&r, 5);
    mt_tensor *n = mt_randn(MT_SHAPE(200, 500), 3.0, 2.0, &r);
    mt_tensor *u = mt_rand(MT_SHAPE(DRAWS), -2.0, 6.0, &r);
    expect_plain_leaf(n);
    expect_plain_leaf(u);
    double s = 0, q = 0;
    for (size_t i = 0; i < n->numel; i++) { s += n->data[i]; q += n->data[i] * n->data[i]; }
    double mean = s / (double)n->numel;
    ck_assert_double_eq_tol(mean, 3.0, 0.03);
    ck_assert_double_eq_tol(sqrt(q / (double)n->numel - mean * mean), 2.0, 0.03);
    s = 0;
    for (size_t i = 0; i < u->numel; i++) {
        ck_assert(u->data[i] >= -2.0 && u->data[i] < 6.0);
        s += u->data[i];
    }
    ck_assert_double_eq_tol(s / (double)u->numel, 2.0, 0.04);
}
END_TEST

START_TEST(rng_below_should_be_unbiased_in_range)
{
    mt_rng r;
    mt_rng_seed(&r, 31337);
    for (int i = 0; i < 1000; i++) ck_assert(mt_rng_below(&r, 1) == 0);

    int count[6] = { 0 };
    for (int i = 0; i < 60000; i++) {
        uint64_t k = mt_rng_below(&r, 6);
        ck_assert(k < 6);
        count[k]++;
    }
    for (int k = 0; k < 6; k++)                          /* 10000 expected, sd 91 */
        ck_assert_msg(count[k] > 9500 && count[k] < 10500, "value %d drawn %d times", k, count[k]);

    /* n = 3 * 2^62: x % n over 64 random bits would give [0, 2^62) half of the time,
     * an unbiased draw one third of the time. */
    const uint64_t n = UINT64_C(3) << 62;
    int low = 0;
    for (int i = 0; i < 30000; i++) {
        uint64_t k = mt_rng_below(&r, n);
        ck_assert(k < n);
        low += k < (UINT64_C(1) << 62);
    }
    ck_assert_double_eq_tol(low / 30000.0, 1.0 / 3.0, 0.015);   /* sd 0.0027 */

    /* every value of [0, 1000) comes up in 100000 draws (100 expected each) */
    static bool hit[1000];
    memset(hit, 0, sizeof hit);
    for (int i = 0; i < 100000; i++) {
        uint64_t k = mt_rng_below(&r, 1000);
        ck_assert(k < 1000);
        hit[k] = true;
    }
    for (int k = 0; k < 1000; k++) ck_assert_msg(hit[k], "%d never drawn", k);
}
END_TEST

/* ---- arenas ---------------------------------------------------------------------------------- */

START_TEST(arena_alloc_should_align_and_count)
{
    mt_arena *a = mt_arena_new();
    ck_assert_uint_eq(mt_arena_used(a), 0);
    unsigned char *p = mt_arena_alloc(a, 100);
    unsigned char *q = mt_arena_alloc(a, 1);
    ck_assert_uint_eq((uintptr_t)p % 64, 0);
    ck_assert_uint_eq((uintptr_t)q % 64, 0);
    ck_assert(q >= p + 100 || q + 1 <= p);            /* no overlap */
    memset(p, 0xab, 100);
    *q = 1;
    ck_assert_uint_eq(p[99], 0xab);
    ck_assert_uint_ge(mt_arena_used(a), 101);
    ck_assert_uint_ge(mt_arena_reserved(a), mt_arena_used(a));
    /* a request larger than any block */
    size_t big = (size_t)8 << 20;
    unsigned char *r = mt_arena_alloc(a, big);
    memset(r, 1, big);
    ck_assert_uint_eq((uintptr_t)r % 64, 0);
    ck_assert_uint_ge(mt_arena_reserved(a), big);
    ck_assert_uint_eq(*q, 1);                         /* earlier allocations untouched */
    mt_arena_free(a);
    mt_arena_free(NULL);
}
END_TEST

START_TEST(arena_reset_should_free_everything_and_keep_the_memory)
{
    mt_arena *a = mt_arena_new();
    for (int i = 0; i < 1000; i++) mt_arena_alloc(a, 3000);
    size_t reserved = mt_arena_reserved(a);
    ck_assert_uint_ge(mt_arena_used(a), 3000000);
    mt_arena_reset(a);
    ck_assert_uint_eq(mt_arena_used(a), 0);
    ck_assert_uint_eq(mt_arena_reserved(a), reserved);
    /* the same allocations again fit in the memory already held */
    for (int i = 0; i < 1000; i++) mt_arena_alloc(a, 3000);
    ck_assert_uint_eq(mt_arena_reserved(a), reserved);
    mt_arena_free(a);
}
END_TEST

START_TEST(arena_use_should_switch_where_tensors_go)
{
    mt_arena *def = mt_arena_current();
    ck_assert_ptr_nonnull(def);
    mt_arena *step = mt_arena_new();
    size_t def_used = mt_arena_used(def);
    ck_assert_ptr_eq(mt_arena_use(step), def);
    ck_assert_ptr_eq(mt_arena_current(), step);
    mt_tensor *t = mt_ones(MT_SHAPE(10, 10));
    ck_assert_ptr_eq(t->arena, step);
    ck_assert_uint_ge(mt_arena_used(step), 100 * sizeof(double));
    ck_assert_uint_eq(mt_arena_used(def), def_used);
    ck_assert_ptr_eq(mt_arena_use(def), step);
    ck_assert_ptr_eq(mt_arena_current(), def);
    mt_tensor *u = mt_ones(MT_SHAPE(2));
    ck_assert_ptr_eq(u->arena, def);
    mt_arena_free(step);
}
END_TEST

START_TEST(leaf_grad_should_live_in_the_leaf_arena)
{
    mt_tensor *w = mt_make_parameter(mt_from_data(MT_SHAPE(2), (double[]){ 1.5, -2 }));
    mt_arena *params = w->arena;
    mt_arena *step = mt_arena_new();
    mt_arena *prev = mt_arena_use(step);
    mt_tensor *loss = mt_sum(mt_mul(w, w));
    ck_assert_ptr_eq(loss->arena, step);
    ck_assert_int_eq(mt_backward(loss), 0);
    mt_arena_use(prev);
    ck_assert_ptr_eq(w->grad->arena, params);
    mt_arena_reset(step);
    /* the step's graph is gone; the parameter and its grad are not */
    mt_tensor *junk = mt_arena_alloc(step, 4096);
    memset(junk, 0xff, 4096);
    ck_assert_double_eq(w->grad->data[0], 3.0);
    ck_assert_double_eq(w->grad->data[1], -4.0);
    mt_arena_free(step);
}
END_TEST

/* Resident set size in bytes, from /proc/self/statm (0 when it cannot be read). */
static size_t resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    return n == 2 ? (size_t)resident * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

/* One training step of y = sum(relu(x W + b)^2) on a per-step arena, with SGD. */
static double train_step(mt_arena *step, mt_tensor *x, mt_tensor *w, mt_tensor *b, mt_traversal how)
{
    mt_arena *prev = mt_arena_use(step);
    mt_tensor *h = mt_relu(mt_add(mt_matmul(x, w), b));       /* (4, 3) */
    mt_tensor *loss = mt_mean(mt_pow(h, 2.0));
    ck_assert_ptr_nonnull(loss);
    double value = mt_item(loss);
    ck_assert_int_eq(mt_backward_ex(loss, NULL, how), 0);
    mt_arena_use(prev);
    for (size_t i = 0; i < w->numel; i++) w->data[i] -= 0.01 * w->grad->data[i];
    for (size_t i = 0; i < b->numel; i++) b->data[i] -= 0.01 * b->grad->data[i];
    mt_zero_grad(w);
    mt_zero_grad(b);
    mt_arena_reset(step);
    return value;
}

START_TEST(training_loop_with_per_step_arena_should_keep_memory_flat)
{
    mt_rng r;
    mt_rng_seed(&r, 3);
    mt_tensor *x = mt_randn(MT_SHAPE(4, 5), 0, 1, &r);
    mt_tensor *w = mt_make_parameter(mt_randn(MT_SHAPE(5, 3), 0, 0.5, &r));
    mt_tensor *b = mt_make_parameter(mt_full(MT_SHAPE(3), 0.1));
    mt_arena *params = mt_arena_current();
    mt_arena *step = mt_arena_new();

    double first_loss = train_step(step, x, w, b, MT_DFS);
    size_t step_reserved = mt_arena_reserved(step);
    size_t params_reserved = mt_arena_reserved(params);
    ck_assert_uint_gt(step_reserved, 0);
    for (int i = 0; i < 100; i++) train_step(step, x, w, b, i % 2 ? MT_TOPO : MT_DFS);
    size_t rss0 = resident_bytes();
    ck_assert_uint_gt(rss0, 0);
    double last_loss = first_loss;
    for (int i = 0; i < 10000; i++) {
        last_loss = train_step(step, x, w, b, i % 2 ? MT_TOPO : MT_DFS);
        ck_assert_uint_eq(mt_arena_used(step), 0);
        ck_assert_uint_eq(mt_arena_reserved(step), step_reserved);
    }
    size_t rss1 = resident_bytes();
    ck_assert_uint_eq(mt_arena_reserved(params), params_reserved);
#if defined(__SANITIZE_ADDRESS__)
    (void)rss1;   /* AddressSanitizer keeps freed blocks in quarantine: RSS is not the program's */
#else
    ck_assert_msg(rss1 <= rss0 + 256 * 1024, "resident memory grew from %zu to %zu bytes", rss0,
                  rss1);
#endif
    /* and the steps did train: the loss went down */
    ck_assert_msg(last_loss < 0.5 * first_loss, "loss %g -> %g", first_loss, last_loss);
    mt_arena_free(step);
}
END_TEST


/* ---- hardening: shapes, creation and arenas under misuse ------------------------------------- */

/* Compiles `body` (inside a function, with <mytorch/tensor.h> included) with the C compiler;
 * returns its exit status, or -1 when no compiler can be run. */
static int compile_snippet(const char *body)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cc -std=c11 -fsyntax-only -I'%s/include' -x c - >/dev/null 2>&1",
             MT_SOURCE_DIR);
    FILE *p = popen(cmd, "w");
    if (!p) return -1;
    fprintf(p, "#include <mytorch/tensor.h>\nint f(void);\nint f(void) { %s }\n", body);
    int status = pclose(p);
    return status == -1 ? -1 : status;
}

START_TEST(shape_macro_should_refuse_five_dimensions_at_compile_time)
{
    int ok = compile_snippet("mt_shape s = MT_SHAPE(1, 2, 3, 4); mt_shape t = MT_DIMS(5); "
                             "return s.ndim + t.ndim;");
    if (ok != 0) return;    /* no working C compiler here: nothing to check against */
    int bad = compile_snippet("mt_shape s = MT_SHAPE(1, 2, 3, 4, 5); return s.ndim;");
    ck_assert_msg(bad != 0, "MT_SHAPE(1, 2, 3, 4, 5) compiled");
    bad = compile_snippet("static const mt_shape s = MT_DIMS(1, 2, 3, 4, 5, 6); return s.ndim;");
    ck_assert_msg(bad != 0, "MT_DIMS(1, 2, 3, 4, 5, 6) compiled");
}
END_TEST

START_TEST(shape_numel_should_saturate_instead_of_wrapping)
{
    /* 2^64 elements would wrap to 0 and (2^31 - 1)^3 to a small-looking number */
    ck_assert_uint_eq(mt_shape_numel(MT_SHAPE(1 << 16, 1 << 16, 1 << 16, 1 << 16)), SIZE_MAX);
    ck_assert_uint_eq(mt_shape_numel(MT_SHAPE(INT_MAX, INT_MAX, INT_MAX)), SIZE_MAX);
    /* a zero anywhere makes the product 0, however large the rest */
    ck_assert_uint_eq(mt_shape_numel(MT_SHAPE(INT_MAX, INT_MAX, INT_MAX, 0)), 0);
    ck_assert_uint_eq(mt_shape_numel(MT_SHAPE(INT_MAX, INT_MAX)), (size_t)INT_MAX * INT_MAX);
    /* shapes that are not shapes count as "too many" rather than as a wrapped number */
    ck_assert_uint_eq(mt_shape_numel(MT_SHAPE(3, -1)), SIZE_MAX);
    mt_shape five = { 5, { 1, 1, 1, 1 } };
    ck_assert_uint_eq(mt_shape_numel(five), SIZE_MAX);
    mt_shape neg = { -1, { 0 } };
    ck_assert_uint_eq(mt_shape_numel(neg), SIZE_MAX);
}
END_TEST

START_TEST(shape_functions_should_not_read_past_four_dimensions)
{
    /* hand-built shapes with a bad ndim: no read beyond dim[3], a readable text */
    mt_shape five = { 5, { 1, 2, 3, 4 } }, five2 = { 5, { 1, 2, 3, 4 } }, neg = { -2, { 0 } };
    char b[64];
    ck_assert_str_eq(mt_shape_str(five, b, sizeof b), "(invalid: 5 dimensions)");
    ck_assert_str_eq(mt_shape_str(neg, b, sizeof b), "(invalid: -2 dimensions)");
    ck_assert(mt_shape_equal(five, five2));
    ck_assert(!mt_shape_equal(five, MT_SHAPE(1, 2, 3, 4)));
}
END_TEST

START_TEST(creation_should_refuse_shapes_too_large_to_hold)
{
    capture_errors(&errors);
    /* 2^64 elements: without a check the count wraps to 0 and an empty tensor comes back with a
     * shape that claims 2^64 elements */
    ck_assert_ptr_null(mt_zeros(MT_SHAPE(1 << 16, 1 << 16, 1 << 16, 1 << 16)));
    ck_assert_int_eq(errors.count, 1);
    ck_assert_ptr_nonnull(strstr(errors.last, "zeros"));
    ck_assert_ptr_nonnull(strstr(errors.last, "(65536, 65536, 65536, 65536)"));
    /* (2^31 - 1)^2 doubles: the byte count wraps */
    ck_assert_ptr_null(mt_empty(MT_SHAPE(INT_MAX, INT_MAX)));
    ck_assert_int_eq(errors.count, 2);
    ck_assert_ptr_nonnull(strstr(errors.last, "empty"));
    /* 2^63 bytes: more than any allocator can hand out */
    ck_assert_ptr_null(mt_ones(MT_SHAPE(1 << 30, 1 << 30)));
    ck_assert_int_eq(errors.count, 3);
    ck_assert_ptr_nonnull(strstr(errors.last, "ones"));
    ck_assert_ptr_null(mt_rand(MT_SHAPE(1 << 30, 1 << 30, 4), 0, 1, NULL));
    ck_assert_ptr_null(mt_randn(MT_SHAPE(INT_MAX, INT_MAX, 2), 0, 1, NULL));
    ck_assert_ptr_null(mt_full(MT_SHAPE(INT_MAX, INT_MAX, INT_MAX, INT_MAX), 1.0));
    ck_assert_int_eq(errors.count, 6);
    /* a shape of more than four dimensions, built by hand */
    mt_shape five = { 5, { 1, 1, 1, 1 } };
    ck_assert_ptr_null(mt_zeros(five));
    ck_assert_int_eq(errors.count, 7);
    /* an empty tensor with large dimensions is fine: it holds nothing */
    mt_tensor *e = mt_zeros(MT_SHAPE(INT_MAX, 0, INT_MAX));
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->numel, 0);
    ck_assert_int_eq(errors.count, 7);
}
END_TEST

START_TEST(from_data_should_refuse_null_data)
{
    capture_errors(&errors);
    ck_assert_ptr_null(mt_from_data(MT_SHAPE(2, 3), NULL));
    ck_assert_int_eq(errors.count, 1);
    ck_assert_ptr_nonnull(strstr(errors.last, "from_data"));
    ck_assert_ptr_nonnull(strstr(errors.last, "(2, 3)"));
    /* nothing to copy: NULL is fine */
    mt_tensor *e = mt_from_data(MT_SHAPE(0, 3), NULL);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(e->numel, 0);
    ck_assert_int_eq(errors.count, 1);
}
END_TEST

START_TEST(format_should_show_the_size_of_an_empty_tensor_like_pytorch)
{
    char b[128];
    mt_format(mt_zeros(MT_SHAPE(0)), b, sizeof b);
    ck_assert_str_eq(b, "tensor([])");
    mt_format(mt_zeros(MT_SHAPE(0, 3)), b, sizeof b);
    ck_assert_str_eq(b, "tensor([], size=(0, 3))");
    mt_format(mt_requires_grad(mt_zeros(MT_SHAPE(2, 0, 1)), true), b, sizeof b);
    ck_assert_str_eq(b, "tensor([], size=(2, 0, 1), requires_grad=True)");
    mt_tensor *x = mt_requires_grad(mt_zeros(MT_SHAPE(3, 0)), true);
    mt_format(mt_neg(x), b, sizeof b);
    ck_assert_str_eq(b, "tensor([], size=(3, 0), grad_fn=<NegBackward0>)");
}
END_TEST

START_TEST(arena_alloc_with_null_should_use_the_current_arena)
{
    mt_arena *step = mt_arena_new();
    mt_arena *prev = mt_arena_use(step);
    size_t used = mt_arena_used(step);
    void *p = mt_arena_alloc(NULL, 100);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % 64, 0);
    ck_assert_uint_gt(mt_arena_used(step), used);
    mt_arena_use(prev);
    mt_arena_free(step);
}
END_TEST

START_TEST(arena_alloc_should_abort_on_a_size_that_wraps)
{
    /* rounding SIZE_MAX up to 64 bytes wraps to 0: without a check this "succeeds" with a
     * 64-byte block */
    mt_arena *a = mt_arena_new();
    mt_arena_alloc(a, SIZE_MAX - 8);
    mt_arena_free(a);
}
END_TEST

START_TEST(freeing_the_current_arena_should_fall_back_to_the_default)
{
    capture_errors(&errors);
    mt_arena *def = mt_arena_current();
    mt_arena *step = mt_arena_new();
    mt_arena_use(step);
    mt_tensor *t = mt_ones(MT_SHAPE(4));
    ck_assert_ptr_eq(t->arena, step);
    mt_arena_free(step);                             /* the current arena */
    ck_assert_ptr_eq(mt_arena_current(), def);
    mt_tensor *u = mt_ones(MT_SHAPE(4));
    ck_assert_ptr_nonnull(u);
    ck_assert_ptr_eq(u->arena, def);
    /* mt_arena_use(NULL) goes back to the default arena too */
    mt_arena *other = mt_arena_new();
    ck_assert_ptr_eq(mt_arena_use(other), def);
    ck_assert_ptr_eq(mt_arena_use(NULL), other);
    ck_assert_ptr_eq(mt_arena_current(), def);
    mt_arena_free(other);
    ck_assert_ptr_eq(mt_arena_current(), def);
    ck_assert_int_eq(errors.count, 0);
}
END_TEST

/* One "step" of allocations mixing small requests with ones larger than a block. */
static void large_pattern(mt_arena *a, int variant)
{
    static const size_t sizes[] = { 3000, (size_t)5 << 20, 100, (size_t)2 << 20, 700000, 64,
                                    (size_t)3 << 20, 900000, 1, (size_t)1 << 20 };
    size_t n = sizeof sizes / sizeof sizes[0];
    for (int rep = 0; rep < 3; rep++)
        for (size_t i = 0; i < n; i++) {
            size_t k = variant ? n - 1 - i : i;      /* the second variant runs backwards */
            unsigned char *p = mt_arena_alloc(a, sizes[k]);
            ck_assert_uint_eq((uintptr_t)p % 64, 0);
            p[0] = 1;
            p[sizes[k] - 1] = 2;
        }
}

START_TEST(arena_reset_should_reach_a_steady_state_with_large_allocations)
{
    mt_arena *a = mt_arena_new();
    large_pattern(a, 0);
    mt_arena_reset(a);
    large_pattern(a, 1);
    mt_arena_reset(a);
    size_t reserved = mt_arena_reserved(a);
    for (int step = 0; step < 200; step++) {
        large_pattern(a, step % 2);
        ck_assert_uint_eq(mt_arena_reserved(a), reserved);   /* no block was added */
        mt_arena_reset(a);
        ck_assert_uint_eq(mt_arena_used(a), 0);
    }
    mt_arena_free(a);
}
END_TEST

static Suite *tensor_suite(void)
{
    Suite *s = suite_create("tensor");
    TCase *tc = tcase_create("creation");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, shape_macro_should_count_its_dimensions);
    tcase_add_test(tc, shape_numel_and_equal_should_follow_the_dimensions);
    tcase_add_test(tc, shape_str_should_write_python_tuples);
    tcase_add_test(tc, creation_functions_should_make_plain_leaves_with_their_values);
    tcase_add_test(tc, from_data_should_copy_the_values);
    tcase_add_test(tc, copy_should_keep_requires_grad_and_detach_should_drop_it);
    tcase_add_test(tc, empty_should_reject_a_negative_dimension);
    tcase_add_test(tc, item_should_refuse_a_tensor_of_many_elements);
    tcase_add_test(tc, fill_and_label_should_set_values_and_names);
    tcase_add_test(tc, shape_macro_should_refuse_five_dimensions_at_compile_time);
    tcase_add_test(tc, shape_numel_should_saturate_instead_of_wrapping);
    tcase_add_test(tc, shape_functions_should_not_read_past_four_dimensions);
    tcase_add_test(tc, creation_should_refuse_shapes_too_large_to_hold);
    tcase_add_test(tc, from_data_should_refuse_null_data);
    suite_add_tcase(s, tc);

    tc = tcase_create("printing");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_loop_test(tc, format_should_match_pytorch_repr, 0, CF_NUM_PRINT_CASES);
    tcase_add_test(tc, format_should_truncate_and_return_the_full_length);
    tcase_add_test(tc, fprint_should_write_the_format_and_a_newline);
    tcase_add_test(tc, format_should_show_the_size_of_an_empty_tensor_like_pytorch);
    suite_add_tcase(s, tc);

    tc = tcase_create("rng");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_loop_test(tc, rng_should_match_reference_xoshiro256starstar, 0, CF_NUM_RNG_CASES);
    tcase_add_test(tc, rng_reseeding_should_restart_the_stream);
    tcase_add_test(tc, uniform_should_fill_zero_to_one);
    tcase_add_test(tc, normal_should_have_mean_zero_and_unit_std);
    tcase_add_test(tc, randn_and_rand_should_scale_and_shift);
    tcase_add_test(tc, rng_below_should_be_unbiased_in_range);
    suite_add_tcase(s, tc);

    tc = tcase_create("arena");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, arena_alloc_should_align_and_count);
    tcase_add_test(tc, arena_reset_should_free_everything_and_keep_the_memory);
    tcase_add_test(tc, arena_use_should_switch_where_tensors_go);
    tcase_add_test(tc, leaf_grad_should_live_in_the_leaf_arena);
    tcase_add_test(tc, training_loop_with_per_step_arena_should_keep_memory_flat);
    tcase_add_test(tc, arena_alloc_with_null_should_use_the_current_arena);
    tcase_add_test(tc, freeing_the_current_arena_should_fall_back_to_the_default);
    tcase_add_test(tc, arena_reset_should_reach_a_steady_state_with_large_allocations);
    /* a test that ends in abort() needs its own process */
    const char *fork_env = getenv("CK_FORK");
    if (!fork_env || strcmp(fork_env, "no") != 0)
        tcase_add_test_raise_signal(tc, arena_alloc_should_abort_on_a_size_that_wraps, SIGABRT);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite(tensor_suite()); }
