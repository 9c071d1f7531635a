/* test_viewer.c: the "viewer" suite (viewer/): the derived state of the worked example
 * e = (a*b + a) + c + 3 step by step (stepping back restores it exactly; before backward nothing
 * is computed; the walk ends at a.grad = 3, c.grad = 1, b none), the captions that follow the
 * handout's walkthrough, the renderer at known steps (the highlighted node's pixels are where
 * the layout put it, in the highlight colour; the accumulation reads 1 → 3), the layout of every
 * example (no two boxes overlap). The program itself is test_viewer_cli.c's. */
#include "../viewer/viewer.h"
#include "../src/draw/draw.h"

#include <cairo.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static char err[1024];

static void release_all(void)
{
    mt_draw_shutdown();
    mt_shutdown();
}

/* ---- helpers --------------------------------------------------------------------------------- */

static vw_model seed_model(void)
{
    mt_trace *t = vw_example_record("seed", NULL, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    vw_model m;
    ck_assert_msg(vw_model_init(&m, t, "seed", err, sizeof err) == 0, "%s", err);
    return m;
}

static int node_named(const vw_model *m, const char *name)
{
    for (int i = 0; i < m->trace->nnodes; i++)
        if (strcmp(m->trace->nodes[i].label, name) == 0) return i;
    ck_abort_msg("no node labelled %s", name);
    return -1;
}

static int op_node(const vw_model *m, const char *op)
{
    for (int i = 0; i < m->trace->nnodes; i++)
        if (strcmp(m->trace->nodes[i].op_name, op) == 0) return i;
    ck_abort_msg("no %s node", op);
    return -1;
}

/* the step of the n-th (from 0) event of `kind` about `node` (-1: any node) in walk w */
static int step_of(const vw_model *m, int w, mt_event_kind kind, int node, int nth)
{
    const mt_trace_walk *wk = &m->trace->walks[w];
    for (size_t i = 0; i < wk->nevents; i++)
        if (wk->events[i].kind == kind && (node < 0 || wk->events[i].node == node) && nth-- == 0)
            return m->trace->nnodes + (int)i;
    ck_abort_msg("walk %d has no such event", w);
    return -1;
}

static void caption_at(const vw_model *m, vw_derived *d, int w, int step, char *buf, size_t n)
{
    vw_derive(d, m, w, step);
    vw_caption(m, d, buf, n);
}

#define ASSERT_HAS(text, part) \
    ck_assert_msg(strstr((text), (part)) != NULL, "\"%s\" lacks \"%s\"", (text), (part))

/* ---- the derived state ----------------------------------------------------------------------- */

START_TEST(seed_walk_should_end_with_a_3_c_1_and_b_without_grad)
{
    vw_model m = seed_model();
    int w = m.walk_of[2];
    ck_assert_int_ge(w, 0);
    ck_assert_int_eq(m.trace->walks[w].traversal, MT_DFS_LAST_FIRST);
    vw_derived d;
    ck_assert_int_eq(vw_derived_init(&d, &m), 0);
    vw_derive(&d, &m, w, vw_step_count(&m, w) - 1);
    ck_assert_int_eq(d.phase, VW_DONE);
    int a = node_named(&m, "a"), b = node_named(&m, "b"), c = node_named(&m, "c");
    ck_assert_ptr_nonnull(d.nodes[a].leaf_grad);
    ck_assert_double_eq(d.nodes[a].leaf_grad->data[0], 3.0);
    ck_assert_double_eq(d.nodes[c].leaf_grad->data[0], 1.0);
    ck_assert_int_eq(m.trace->nodes[b].kind, MT_TRACE_CONSTANT);
    ck_assert_ptr_null(d.nodes[b].leaf_grad);
    ck_assert_ptr_null(d.nodes[b].grad);
    ck_assert(d.nodes[a].final && d.nodes[c].final);
    ck_assert_int_eq(d.nodes[a].visits, 2);              /* a is reached along two paths */
    ck_assert_int_eq(d.calls, 7);
    ck_assert_int_eq(d.nstack, 0);
    vw_derived_free(&d);
    vw_model_free(&m);
}
END_TEST

START_TEST(before_backward_every_gradient_should_be_not_computed)
{
    vw_model m = seed_model();
    vw_derived d;
    ck_assert_int_eq(vw_derived_init(&d, &m), 0);
    for (int w = 0; w < m.trace->nwalks; w++)
        for (int step = 0; step < m.trace->nnodes; step++) {
            vw_derive(&d, &m, w, step);
            ck_assert_int_eq(d.phase, VW_FORWARD);
            for (int i = 0; i < m.trace->nnodes; i++) {
                ck_assert_int_eq(d.nodes[i].visible, i <= step);   /* creation order */
                ck_assert_ptr_null(d.nodes[i].grad);
                ck_assert_ptr_null(d.nodes[i].leaf_grad);
                ck_assert(!d.nodes[i].final);
                ck_assert_int_eq(d.nodes[i].visits, 0);
            }
        }
    /* every walk starts from no .grad at all: zero_grad between walks sets it to none */
    for (int w = 0; w < m.trace->nwalks; w++) {
        vw_derive(&d, &m, w, m.trace->nnodes);           /* BACKWARD_BEGIN */
        ck_assert_int_eq(d.event->kind, MT_EV_BACKWARD_BEGIN);
        for (int i = 0; i < m.trace->nnodes; i++) {
            ck_assert_ptr_null(d.nodes[i].leaf_grad);
            if (i != m.trace->walks[w].root) ck_assert_ptr_null(d.nodes[i].grad);
        }
        ck_assert_double_eq(d.nodes[m.trace->walks[w].root].grad->data[0], 1.0);   /* the seed */
    }
    vw_derived_free(&d);
    vw_model_free(&m);
}
END_TEST

START_TEST(stepping_forward_then_back_should_restore_the_same_state)
{
    const char *names[] = { "seed", "diamond", "mlp" };
    for (int k = 0; k < N_OF(names); k++) {
        mt_trace *t = vw_example_record(names[k], NULL, err, sizeof err);
        ck_assert_msg(t != NULL, "%s", err);
        vw_model m;
        ck_assert_int_eq(vw_model_init(&m, t, names[k], err, sizeof err), 0);
        vw_derived before, after;
        ck_assert_int_eq(vw_derived_init(&before, &m), 0);
        ck_assert_int_eq(vw_derived_init(&after, &m), 0);
        for (int w = 0; w < t->nwalks; w++) {
            vw_state s;
            vw_state_init(&s, &m, 1);
            s.walk = w;
            int n = vw_step_count(&m, w);
            for (int step = 0; step + 1 < n; step++) {
                vw_state_goto(&s, &m, step);
                vw_derive(&before, &m, s.walk, s.step);
                vw_state_step(&s, &m, +1);               /* Right */
                vw_derive(&after, &m, s.walk, s.step);
                ck_assert_msg(!vw_derived_equal(&before, &after), "%s: step %d changed nothing",
                              names[k], step);
                vw_state_step(&s, &m, -1);               /* Left */
                vw_derive(&after, &m, s.walk, s.step);
                ck_assert_msg(vw_derived_equal(&before, &after), "%s walk %d: back from step %d "
                              "is not step %d", names[k], w, step + 1, step);
            }
        }
        vw_derived_free(&before);
        vw_derived_free(&after);
        vw_model_free(&m);
    }
}
END_TEST

START_TEST(dfs_should_run_the_shared_subgraph_twice_and_topo_once)
{
    mt_trace *t = vw_example_record("diamond", NULL, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    vw_model m;
    ck_assert_int_eq(vw_model_init(&m, t, "diamond", err, sizeof err), 0);
    int h = node_named(&m, "h"), dfs = m.walk_of[0], topo = m.walk_of[1];
    ck_assert_int_ge(dfs, 0);
    ck_assert_int_ge(topo, 0);
    vw_derived d;
    ck_assert_int_eq(vw_derived_init(&d, &m), 0);
    vw_derive(&d, &m, dfs, vw_step_count(&m, dfs) - 1);
    ck_assert_int_eq(d.nodes[h].visits, 2);
    double x_dfs = d.nodes[node_named(&m, "x")].leaf_grad->data[0];
    vw_derive(&d, &m, topo, vw_step_count(&m, topo) - 1);
    ck_assert_int_eq(d.nodes[h].visits, 1);
    ck_assert_double_eq(d.nodes[node_named(&m, "x")].leaf_grad->data[0], x_dfs);   /* 28 */
    ck_assert_int_gt(m.calls[dfs], m.calls[topo]);
    /* the topological walk waits: h is ready only after both of its users delivered */
    int ready = step_of(&m, topo, MT_EV_READY, h, 0), first = -1;
    for (int k = m.trace->nnodes; k < ready && first < 0; k++) {
        const mt_trace_event *e = &t->walks[topo].events[k - m.trace->nnodes];
        if (e->kind == MT_EV_GRAD_PASSED && e->parent == h) first = k;
    }
    vw_derive(&d, &m, topo, first);
    ck_assert_int_eq(d.nodes[h].arrived, 1);
    ck_assert_int_eq(d.nodes[h].pending, 1);
    ck_assert(!d.nodes[h].final);
    vw_derive(&d, &m, topo, ready);
    ck_assert(d.nodes[h].ready && d.nodes[h].final);
    ck_assert_double_eq(d.nodes[h].grad->data[0], 14.0);  /* 2q + p */
    /* `t` switches between the walks and says how many calls each made */
    vw_state s;
    vw_state_init(&s, &m, 1);
    ck_assert(vw_state_switch_walk(&s, &m, MT_TOPO));
    ck_assert_int_eq(s.walk, topo);
    ASSERT_HAS(s.message, "backward calls");
    vw_derived_free(&d);
    vw_model_free(&m);
}
END_TEST

/* ---- captions -------------------------------------------------------------------------------- */

START_TEST(seed_captions_should_follow_the_handout_walkthrough)
{
    vw_model m = seed_model();
    int w = m.walk_of[2];
    vw_derived d;
    ck_assert_int_eq(vw_derived_init(&d, &m), 0);
    char cap[VW_TEXT_MAX];
    int a = node_named(&m, "a"), c = node_named(&m, "c"), dd = node_named(&m, "d");
    int mul = op_node(&m, "mul");
    /* step 1: the seed of ones at e */
    int s1 = m.trace->nnodes;
    caption_at(&m, &d, w, s1, cap, sizeof cap);
    ASSERT_HAS(cap, "seed");
    ASSERT_HAS(cap, "ones");
    ASSERT_HAS(cap, "e");
    /* step 2: the first recursive call */
    int s2 = step_of(&m, w, MT_EV_GRAD_PASSED, -1, 0);
    caption_at(&m, &d, w, s2, cap, sizeof cap);
    ASSERT_HAS(cap, "first recursive call");
    /* step 3: c stores 1 (last input first: c before d) */
    int s3 = step_of(&m, w, MT_EV_ACCUMULATE, c, 0);
    caption_at(&m, &d, w, s3, cap, sizeof cap);
    ASSERT_HAS(cap, "c stores 1");
    /* step 4: back to d */
    int s4 = step_of(&m, w, MT_EV_VISIT, dd, 0) - 1;
    caption_at(&m, &d, w, s4, cap, sizeof cap);
    ASSERT_HAS(cap, "Back to d");
    /* step 5: a stores 1 */
    int s5 = step_of(&m, w, MT_EV_ACCUMULATE, a, 0);
    caption_at(&m, &d, w, s5, cap, sizeof cap);
    ASSERT_HAS(cap, "a stores 1");
    /* step 6: the plot twist: Op:Mult needs a and b, saved in its context during forward */
    int s6 = step_of(&m, w, MT_EV_VISIT, mul, 0);
    caption_at(&m, &d, w, s6, cap, sizeof cap);
    ASSERT_HAS(cap, "Plot twist");
    ASSERT_HAS(cap, "a and b");
    ASSERT_HAS(cap, "context");
    ASSERT_HAS(cap, "forward");
    /* step 7: a.grad goes 1 -> 3 by += */
    int s7 = step_of(&m, w, MT_EV_ACCUMULATE, a, 1);
    caption_at(&m, &d, w, s7, cap, sizeof cap);
    ASSERT_HAS(cap, "a.grad += 2: 1 → 3");
    char acc[128];
    vw_accumulate_text(&m, d.event, acc, sizeof acc);
    ck_assert_str_eq(acc, "a.grad: 1 → 3 (+2)");
    /* step 8: the end */
    int s8 = vw_step_count(&m, w) - 1;
    caption_at(&m, &d, w, s8, cap, sizeof cap);
    ASSERT_HAS(cap, "a.grad = 3");
    ASSERT_HAS(cap, "c.grad = 1");
    ASSERT_HAS(cap, "b has no grad");
    ck_assert(s1 < s2 && s2 < s3 && s3 < s4 && s4 < s5 && s5 < s6 && s6 < s7 && s7 < s8);
    /* the chain rule in numbers, from the registry's local derivatives */
    char lines[VW_CHAIN_MAX][VW_TEXT_MAX];
    vw_derive(&d, &m, w, s7 - 2);                        /* MulBackward0 passes 2 to a */
    ck_assert_int_eq(d.event->kind, MT_EV_GRAD_PASSED);
    ck_assert_int_eq(vw_chain_rule(&m, &d, lines, VW_CHAIN_MAX), 1);
    ck_assert_str_eq(lines[0], "∂e/∂a = ∂e/∂(a × b) · ∂(a × b)/∂a = 1 · b = 1 · 2 = 2");
    vw_derived_free(&d);
    vw_model_free(&m);
}
END_TEST

START_TEST(values_should_print_as_numbers_or_as_their_shape)
{
    char buf[96];
    mt_trace_value v = { .present = true, .shape = MT_SCALAR_DIMS, .numel = 1, .ndata = 1,
                         .data = (double[]){ 3 } };
    vw_format_value(&v, buf, sizeof buf);
    ck_assert_str_eq(buf, "3");
    v = (mt_trace_value){ .present = true, .shape = MT_DIMS(2, 2), .numel = 4, .ndata = 4,
                          .data = (double[]){ 1, -0.5, 0, 2 } };
    vw_format_value(&v, buf, sizeof buf);
    ck_assert_str_eq(buf, "[[1, -0.5], [0, 2]]");
    v = (mt_trace_value){ .present = true, .shape = MT_DIMS(4, 784), .numel = 3136, .ndata = 16,
                          .summarised = true, .data = (double[16]){ 0 } };
    vw_format_value(&v, buf, sizeof buf);
    ck_assert_str_eq(buf, "(4, 784)");
    vw_format_value(NULL, buf, sizeof buf);
    ck_assert_str_eq(buf, "—");                          /* not computed, never 0 */
}
END_TEST

/* ---- the renderer ---------------------------------------------------------------------------- */

static void app_seed(vw_app *app, int w, int h)
{
    mt_trace *t = vw_example_record("seed", NULL, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert_msg(vw_app_init(app, t, "seed", w, h, 1, err, sizeof err) == 0, "%s", err);
}

static uint32_t pixel(cairo_surface_t *s, double x, double y)
{
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    int ix = (int)x, iy = (int)y;
    ck_assert(ix >= 0 && iy >= 0 && ix < w && iy < h);
    const unsigned char *data = cairo_image_surface_get_data(s);
    return ((const uint32_t *)(const void *)(data + (size_t)iy *
                                             cairo_image_surface_get_stride(s)))[ix];
}

static bool is_highlight(uint32_t p)
{
    int r = (p >> 16) & 0xff, g = (p >> 8) & 0xff, b = p & 0xff;
    return abs(r - (int)(VW_HIGHLIGHT_R * 255)) < 12 && abs(g - (int)(VW_HIGHLIGHT_G * 255)) < 12 &&
           abs(b - (int)(VW_HIGHLIGHT_B * 255)) < 12;
}

START_TEST(renderer_should_highlight_the_visited_node_where_the_layout_put_it)
{
    vw_app app;
    app_seed(&app, 1280, 720);
    int w = app.state.walk, mul = op_node(&app.model, "mul");
    vw_state_goto(&app.state, &app.model, step_of(&app.model, w, MT_EV_VISIT, mul, 0));
    vw_app_update(&app, 1280, 720);
    cairo_surface_t *s = vw_render_image(&app, 1280, 720);
    ck_assert_int_eq(app.scene.highlighted, mul);
    /* the box on screen is the layout's box through the camera */
    vw_rect box = app.layout.box[mul], r = app.scene.node[mul];
    vw_point p = vw_to_screen(&app.state, app.scene.geom, box.x, box.y);
    ck_assert(fabs(r.x - p.x) < 1e-6 && fabs(r.y - p.y) < 1e-6);
    ck_assert(fabs(r.w - box.w * app.state.zoom) < 1e-6);
    ck_assert(r.x >= app.scene.geom.graph.x &&
              r.x + r.w <= app.scene.geom.graph.x + app.scene.geom.graph.w);
    /* its border is drawn in the highlight colour: left edge, bottom edge */
    ck_assert_msg(is_highlight(pixel(s, r.x, r.y + r.h / 2)), "left edge: %08x",
                  pixel(s, r.x, r.y + r.h / 2));
    ck_assert_msg(is_highlight(pixel(s, r.x + r.w / 2, r.y + r.h)), "bottom edge: %08x",
                  pixel(s, r.x + r.w / 2, r.y + r.h));
    /* and no other node is: the middle of c's left edge is not orange */
    int c = node_named(&app.model, "c");
    ck_assert(!is_highlight(pixel(s, app.scene.node[c].x,
                                  app.scene.node[c].y + app.scene.node[c].h / 2)));
    cairo_surface_destroy(s);
    vw_app_free(&app);
}
END_TEST

START_TEST(renderer_should_show_the_accumulation_into_a_as_1_to_3)
{
    vw_app app;
    app_seed(&app, 1280, 720);
    int w = app.state.walk, a = node_named(&app.model, "a");
    vw_state_goto(&app.state, &app.model, step_of(&app.model, w, MT_EV_ACCUMULATE, a, 1));
    vw_app_update(&app, 1280, 720);
    cairo_surface_t *s = vw_render_image(&app, 1280, 720);
    ASSERT_HAS(app.scene.accumulate, "1 → 3");
    ck_assert_str_eq(app.scene.accumulate, "a.grad: 1 → 3 (+2)");
    ck_assert_int_eq(app.scene.highlighted, a);
    /* the callout sits just above or below a's box: some of its yellow is there */
    vw_rect r = app.scene.node[a];
    int yellow = 0;
    double band = 40 * app.state.zoom;
    for (double y = r.y - band; y < r.y + r.h + band; y += 1)
        for (double x = r.x; x < r.x + r.w; x += 1) {
            if (y >= r.y && y < r.y + r.h) continue;
            uint32_t p = pixel(s, x, y);
            if (((p >> 16) & 0xff) > 240 && ((p >> 8) & 0xff) > 225 && (p & 0xff) < 200) yellow++;
        }
    ck_assert_int_gt(yellow, 100);
    /* at the GRAD_PASSED before it, the gradient travels along its edge */
    vw_state_goto(&app.state, &app.model, app.state.step - 2);
    app.state.anim = 0.5;
    vw_app_update(&app, 1280, 720);
    cairo_surface_destroy(s);
    s = vw_render_image(&app, 1280, 720);
    ck_assert(app.scene.dot_drawn);
    ck_assert_int_eq(app.derived.event->kind, MT_EV_GRAD_PASSED);
    cairo_surface_destroy(s);
    vw_app_free(&app);
}
END_TEST

START_TEST(inspector_should_read_the_cell_under_the_mouse)
{
    mt_trace *t = vw_example_record("mlp", NULL, err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    vw_app app;
    ck_assert_msg(vw_app_init(&app, t, "mlp", 1280, 720, 1, err, sizeof err) == 0, "%s", err);
    app.state.selected = node_named(&app.model, "W₁");
    vw_state_goto(&app.state, &app.model, vw_step_count(&app.model, app.state.walk) - 1);
    vw_app_update(&app, 1280, 720);
    cairo_surface_destroy(vw_render_image(&app, 1280, 720));
    vw_rect v = app.scene.insp_value, g = app.scene.insp_grad;
    ck_assert(v.w > 0 && g.w > 0);
    ck_assert_int_eq(app.scene.insp_rows, 4);
    ck_assert_int_eq(app.scene.insp_cols, 3);
    app.state.mouse_in = true;                           /* over cell [1, 2] of the gradient */
    app.state.mouse_x = g.x + g.w * (2.5 / 3);
    app.state.mouse_y = g.y + g.h * (1.5 / 4);
    cairo_surface_destroy(vw_render_image(&app, 1280, 720));
    ASSERT_HAS(app.scene.hover, "W₁[1, 2] = ");
    ASSERT_HAS(app.scene.hover, "grad[1, 2] = ");
    vw_app_free(&app);
}
END_TEST

/* ---- the layout ------------------------------------------------------------------------------ */

START_TEST(no_two_node_boxes_should_overlap_in_any_example)
{
    const char *names[] = { "seed", "diamond", "mlp", "mnist-step", "chain:60", "random:200" };
    for (int k = 0; k < N_OF(names); k++) {
        mt_trace *t = vw_example_record(names[k], NULL, err, sizeof err);
        ck_assert_msg(t != NULL, "%s: %s", names[k], err);
        vw_model m;
        ck_assert_int_eq(vw_model_init(&m, t, names[k], err, sizeof err), 0);
        vw_measure_nodes(&m);
        vw_layout l;
        ck_assert_msg(vw_layout_compute(&l, &m, err, sizeof err) == 0, "%s: %s", names[k], err);
        ck_assert_int_eq(l.nnodes, t->nnodes);
        for (int i = 0; i < l.nnodes; i++) {
            ck_assert(fabs(l.box[i].w - m.node_w[i]) < 0.5 && fabs(l.box[i].h - m.node_h[i]) < 0.5);
            for (int j = i + 1; j < l.nnodes; j++)
                ck_assert_msg(!vw_rects_overlap(l.box[i], l.box[j]), "%s: nodes %d and %d overlap",
                              names[k], i, j);
        }
        /* inputs left, output right: every edge runs rightwards */
        for (int e = 0; e < l.nedges; e++) {
            const mt_trace_edge *te = &t->edges[e];
            ck_assert_msg(l.box[te->from].x + l.box[te->from].w <= l.box[te->to].x + 1e-6,
                          "%s: edge %d runs leftwards", names[k], e);
            ck_assert_int_ge(l.edge[e].npts, 4);
        }
        vw_layout_free(&l);
        vw_model_free(&m);
    }
}
END_TEST

START_TEST(examples_and_ops_should_refuse_unknown_names_listing_the_valid_ones)
{
    ck_assert_ptr_null(vw_example_record("nope", NULL, err, sizeof err));
    ASSERT_HAS(err, "seed, diamond, mlp, mnist-step");
    ck_assert_ptr_null(vw_example_record("random:1", NULL, err, sizeof err));
    ASSERT_HAS(err, "from 2 to 5000");
    ck_assert_ptr_null(vw_op_record("frobnicate", "x", err, sizeof err));
    ASSERT_HAS(err, "mul");
    ck_assert_ptr_null(vw_op_record("mul", "nope", err, sizeof err));
    ASSERT_HAS(err, "same_3x4");
    mt_trace *t = vw_op_record("mul", "bcast_3x4_4", err, sizeof err);
    ck_assert_msg(t != NULL, "%s", err);
    ck_assert_int_eq(t->nnodes, 3);
    ck_assert_str_eq(t->nodes[0].label, "a");
    ck_assert_int_ge(t->nwalks, 2);
    mt_trace_free(t);
    t = vw_example_record("random:120", NULL, err, sizeof err);
    ck_assert_int_eq(t->nnodes, 120);                    /* exactly N */
    mt_trace_free(t);
}
END_TEST

/* ---- runner ---------------------------------------------------------------------------------- */

static Suite *viewer_suite(void)
{
    Suite *s = suite_create("viewer");
    TCase *state = tcase_create("state");
    tcase_add_checked_fixture(state, NULL, release_all);
    tcase_add_test(state, seed_walk_should_end_with_a_3_c_1_and_b_without_grad);
    tcase_add_test(state, before_backward_every_gradient_should_be_not_computed);
    tcase_add_test(state, stepping_forward_then_back_should_restore_the_same_state);
    tcase_add_test(state, dfs_should_run_the_shared_subgraph_twice_and_topo_once);
    tcase_add_test(state, seed_captions_should_follow_the_handout_walkthrough);
    tcase_add_test(state, values_should_print_as_numbers_or_as_their_shape);
    tcase_add_test(state, examples_and_ops_should_refuse_unknown_names_listing_the_valid_ones);
    tcase_set_timeout(state, 60);
    suite_add_tcase(s, state);

    TCase *render = tcase_create("render");
    tcase_add_checked_fixture(render, NULL, release_all);
    tcase_add_test(render, renderer_should_highlight_the_visited_node_where_the_layout_put_it);
    tcase_add_test(render, renderer_should_show_the_accumulation_into_a_as_1_to_3);
    tcase_add_test(render, inspector_should_read_the_cell_under_the_mouse);
    tcase_add_test(render, no_two_node_boxes_should_overlap_in_any_example);
    tcase_set_timeout(render, 120);
    suite_add_tcase(s, render);

    return s;
}

int main(void)
{
    return run_suite(viewer_suite());
}
