/* viewer.h (internal): what the parts of mytorch-viewer share. The viewer replays a recorded
 * trace (trace.h): the forward pass node by node, then one engine event per step.
 *
 * The parts, each in its own file and each testable alone:
 *   scenarios.c  the built-in examples and registry ops, recorded into traces
 *   state.c      the model (a trace and its indexes), the step cursor, camera and selection, and
 *                vw_derive: what is true at step N, from (trace, walk, step) alone
 *   captions.c   names, numbers and the one-line caption and chain rule of each step
 *   layout.c     Graphviz's dot layout, once per graph, copied into vw_layout (the only gvc.h)
 *   render.c     one frame on a cairo_t: the graph; panel.c the bars, side panel, inspector
 *   headless.c   PNG, frames, PDF, SVG, trace export and the benchmark, with no window
 *   window.c     the SDL2 window (the only SDL.h); main.c the command line
 *
 * Units: the layout is in graph units (points, y down, origin at the graph's top-left corner).
 * A frame is drawn in device pixels; the camera maps graph units to them. */
#ifndef MT_VIEWER_H
#define MT_VIEWER_H

#include <mytorch/mytorch.h>
#include <mytorch/trace.h>

#include <cairo.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#define VW_NAME_MAX 48       /* a node's display name ("a", "a × b", "MulBackward0") */
#define VW_TEXT_MAX 512      /* one caption or chain-rule line */
#define VW_CHAIN_MAX 8       /* chain-rule lines per step */
#define VW_PI 3.14159265358979323846
#define VW_SMALL_NUMEL 4     /* values with at most this many elements are shown as numbers */

/* ---- scenarios.c: the examples --------------------------------------------------------------- */

typedef struct vw_example {
    const char *name;        /* "seed", "chain:N" */
    const char *summary;     /* one line for --list */
} vw_example;

int               vw_example_count(void);
const vw_example *vw_example_at(int i);
/* Builds example `name` ("seed", "diamond", "mlp", "mnist-step", "chain:N", "random:N") with the
 * library and records it: the forward pass and its backward walks (DFS last input first, DFS,
 * topological, with zero_grad between them; DFS only where it visits a bounded number of
 * nodes). data_dir: where mnist-step looks for MNIST (NULL: data/mnist). Returns a trace the
 * caller frees with mt_trace_free, or NULL with a message in err naming the valid examples. */
mt_trace *vw_example_record(const char *name, const char *data_dir, char *err, size_t errlen);
/* Registry op `op` at its gradcheck case `case_name`, inputs drawn from the op's domains (as
 * gradcheck draws them) and labelled a, b, c, d; the output is summed to a scalar when it is not
 * one, so backward starts from ones. NULL with a message listing the valid ops or cases. */
mt_trace *vw_op_record(const char *op, const char *case_name, char *err, size_t errlen);

/* ---- state.c: the model, the cursor, the derived state --------------------------------------- */

/* A trace and what the viewer looks up in it often. Owns the trace. */
typedef struct vw_model {
    mt_trace *trace;
    char      name[64];           /* the example or file, for titles and saved file names */
    int     (*inputs)[MT_MAX_INPUTS]; /* per node: operand -> input node, -1 none */
    int      *inedge;             /* per node * MT_MAX_INPUTS: operand -> edge index, -1 none */
    int       walk_of[3];         /* walk index per traversal (MT_DFS, MT_TOPO,
                                     MT_DFS_LAST_FIRST) */
    int      *calls;              /* per walk: its VISIT events (backward calls) */
    double   *node_w, *node_h;    /* per node: its box, in graph units (render.c measures) */
} vw_model;

/* 0, or -1 with a message when the trace is one the viewer cannot show (no nodes). Takes the
 * trace in both cases. */
int  vw_model_init(vw_model *m, mt_trace *t, const char *name, char *err, size_t errlen);
void vw_model_free(vw_model *m);
int  vw_step_count(const vw_model *m, int walk);   /* nnodes + that walk's events */

typedef enum vw_phase { VW_FORWARD, VW_BACKWARD, VW_DONE } vw_phase;

/* One node at one step. */
typedef struct vw_node_state {
    bool visible;                 /* made by the forward pass by this step */
    int  visits;                  /* backward calls of this node so far in the walk */
    const mt_trace_value *grad;   /* the gradient it last received (the seed at the root);
                                     NULL: not computed yet */
    const mt_trace_value *leaf_grad; /* AccumulateGrad: its .grad now; NULL: none yet */
    int  accumulated;             /* AccumulateGrad: its += so far in this walk */
    bool final;                   /* no more gradient will reach it in this walk */
    int  stack_pos;               /* DFS: its frame's height on the call stack (1 = bottom); 0 */
    int  pending;                 /* topological: edges still to deliver into it; -1 n/a */
    bool ready;                   /* topological: every edge delivered, waiting to run */
    int  arrived;                 /* topological: edges delivered so far */
} vw_node_state;

/* Everything true at one step, computed from (trace, walk, step) alone by vw_derive. */
typedef struct vw_derived {
    int            nnodes, nedges;
    vw_node_state *nodes;
    bool          *edge_done;     /* a gradient has travelled along it in this walk */
    int           *stack;         /* DFS: the call stack, bottom first; topological: the ready
                                     stack, next to run last */
    int            nstack;
    int            walk, step;
    vw_phase       phase;
    int            created;       /* forward: the node made at this step; else -1 */
    int            event_index;   /* backward: the current event; else -1 */
    const mt_trace_event *event;
    int            current;       /* the node the step is about, or -1 */
    int            edge;          /* GRAD_PASSED: the edge the gradient travels along; else -1 */
    int            receiver;      /* GRAD_PASSED: the node receiving it; else -1 */
    const mt_trace_value *travelling; /* GRAD_PASSED: its value */
    int            calls, total_calls;  /* VISITs so far, and in the whole walk */
    int           *last_visit;    /* scratch: per node, its last delivery in the walk */
} vw_derived;

int  vw_derived_init(vw_derived *d, const vw_model *m);   /* 0, or -1 out of memory */
void vw_derived_free(vw_derived *d);
/* d = the state at `step` (0 .. vw_step_count - 1, clamped) of walk `walk` (-1: none). */
void vw_derive(vw_derived *d, const vw_model *m, int walk, int step);
bool vw_derived_equal(const vw_derived *a, const vw_derived *b);

typedef struct vw_rect { double x, y, w, h; } vw_rect;
typedef struct vw_point { double x, y; } vw_point;

/* Where the parts of a frame go, in device pixels, for a w x h frame at UI scale ui. */
typedef struct vw_frame_geom {
    vw_rect top, bottom, panel, graph, inspector;   /* inspector: inside graph when open */
} vw_frame_geom;
vw_frame_geom vw_frame_geometry(double w, double h, double ui, bool inspector);

/* The viewer's state apart from the trace: cursor, walk, camera, selection, playing. */
typedef struct vw_state {
    int    walk, step;
    mt_traversal last_dfs;        /* the DFS order `t` comes back to from topological */
    double cam_x, cam_y, zoom;    /* the graph point at the graph area's centre; px per unit */
    double ui;                    /* UI scale: --scale times the display's pixel ratio */
    int    selected;              /* the inspected node, or -1 */
    double mouse_x, mouse_y;      /* device pixels */
    bool   mouse_in;
    bool   playing;
    double speed;                 /* steps per second while playing */
    double anim;                  /* 0..1: how far the current step's animation has got */
    bool   help;
    char   message[256];          /* shown in the bottom bar ("saved seed-step-4.png") */
} vw_state;

typedef struct vw_layout vw_layout;

void vw_state_init(vw_state *s, const vw_model *m, double ui);
/* Steps the cursor by delta (clamped); resets the animation. */
void vw_state_step(vw_state *s, const vw_model *m, int delta);
void vw_state_goto(vw_state *s, const vw_model *m, int step);
/* Switches to the walk of traversal `how` keeping the position in the walk; false (and a
 * message in s) when the trace has no such walk. */
bool vw_state_switch_walk(vw_state *s, const vw_model *m, mt_traversal how);
void vw_state_fit(vw_state *s, const vw_layout *l, vw_frame_geom g);
/* Moves the camera the least that brings node into the graph area (with a margin). */
void vw_state_follow(vw_state *s, const vw_layout *l, vw_frame_geom g, int node);
/* Keeps the graph in view: centred along an axis where it fits, else no empty margin beyond it. */
void vw_state_clamp(vw_state *s, const vw_layout *l, vw_frame_geom g);
void vw_state_zoom_at(vw_state *s, vw_frame_geom g, double px, double py, double factor);
vw_point vw_to_screen(const vw_state *s, vw_frame_geom g, double gx, double gy);
vw_point vw_to_graph(const vw_state *s, vw_frame_geom g, double px, double py);
/* The node whose box holds device point (px, py), or -1. */
int  vw_pick_node(const vw_state *s, const vw_layout *l, const vw_derived *d, vw_frame_geom g,
                  double px, double py);

/* ---- captions.c: words and numbers ----------------------------------------------------------- */

/* The name a node is shown by: its label, else a short expression of its inputs' names
 * ("a × b"), else "v<id>". */
void vw_node_name(const vw_model *m, int node, char *buf, size_t n);
/* Numbers: "3", "-0.25", "[1, 2, 3]", "[[1, 2], [3, 4]]"; a larger value as its shape
 * "(4, 784)". */
void vw_format_value(const mt_trace_value *v, char *buf, size_t n);
void vw_format_number(double x, char *buf, size_t n);
bool vw_value_small(const mt_trace_value *v);     /* shown as numbers (not as a heatmap) */
/* "a.grad: 1 → 3 (+2)" for an ACCUMULATE event; "" for other events. */
void vw_accumulate_text(const vw_model *m, const mt_trace_event *e, char *buf, size_t n);
/* The current step's caption, in words. */
void vw_caption(const vw_model *m, const vw_derived *d, char *buf, size_t n);
/* The chain rule of the current step in numbers (lines[0..returned)). */
int  vw_chain_rule(const vw_model *m, const vw_derived *d, char lines[][VW_TEXT_MAX], int max);
/* "forward", "backward: DFS, last input first", "backward: topological order" */
const char *vw_phase_text(const vw_model *m, const vw_derived *d);
const char *vw_traversal_text(mt_traversal how);

/* ---- layout.c: the dot layout, copied out ---------------------------------------------------- */

typedef struct vw_curve {
    int       npts;               /* 1 + 3k cubic Bézier control points, tail to head */
    vw_point *pts;
    bool      arrow;              /* an arrowhead from the last point to tip */
    vw_point  tip;
    vw_rect   bounds;             /* holds every point (a Bézier stays inside its points) */
} vw_curve;

struct vw_layout {
    int       nnodes, nedges;
    vw_rect  *box;                /* per node: its box, top-left and size */
    vw_curve *edge;               /* per edge of the trace */
    double    width, height;      /* the whole drawing */
    double    ms, cpu_ms;         /* how long the layout took: wall clock, and CPU time */
};

/* Lays out m's graph with dot (inputs left, output right, operand order kept), nodes sized by
 * m->node_w / node_h. 0, or -1 with a message. Graphviz is freed before it returns. */
int  vw_layout_compute(vw_layout *l, const vw_model *m, char *err, size_t errlen);
void vw_layout_free(vw_layout *l);
bool vw_rects_overlap(vw_rect a, vw_rect b);

/* ---- render.c, panel.c: one frame ------------------------------------------------------------ */

/* Heatmap images kept between frames (one per value, made when first drawn), so a frame
 * allocates nothing once every value has been seen. */
typedef struct vw_render_cache {
    const mt_trace_value **key;
    cairo_surface_t      **surface;
    double                *vmax;      /* the scale each image was made with */
    int                    n, cap;
} vw_render_cache;
void vw_render_cache_free(vw_render_cache *c);
/* The image of v (a pixel per element, RdBu around 0 scaled by vmax; a large value's blocks of
 * elements averaged into at most 160 pixels a side), owned by the cache. NULL for an absent or
 * empty value. */
cairo_surface_t *vw_heatmap_image(vw_render_cache *c, const mt_trace_value *v, double vmax);

/* What a frame drew where, for hit tests and tests: device pixels. */
typedef struct vw_scene {
    vw_frame_geom geom;
    int      nnodes;
    vw_rect *node;                /* per node, on screen (valid where drawn) */
    bool    *drawn;
    int      highlighted;         /* the node drawn in the highlight colour, or -1 */
    bool     dot_drawn;           /* the travelling gradient */
    vw_point dot;
    char     accumulate[128];     /* the accumulation callout's text, or "" */
    char     caption[VW_TEXT_MAX];
    vw_rect  insp_value, insp_grad;   /* the inspector's two heatmaps (w 0: not drawn) */
    int      insp_rows, insp_cols;
    char     hover[320];          /* the inspector's reading of the cell under the mouse */
} vw_scene;
int  vw_scene_init(vw_scene *s, int nnodes);
void vw_scene_free(vw_scene *s);

/* Everything one frame is drawn from. */
typedef struct vw_app {
    vw_model        model;
    vw_layout       layout;
    vw_state        state;
    vw_derived      derived;
    vw_render_cache cache;
    vw_scene        scene;
    int             shown_walk, shown_step;   /* what the camera last followed */
    bool            lod_text;                 /* set per frame: nodes drawn with their text */
} vw_app;

/* Loads everything for trace t (taken): model, node sizes, layout, state at step 0, camera fit
 * to a w x h frame. 0, or -1 with a message (and app freed). */
int  vw_app_init(vw_app *app, mt_trace *t, const char *name, double w, double h, double ui,
                 char *err, size_t errlen);
void vw_app_free(vw_app *app);
/* Re-derives the state after the cursor moved; follows the current node when it would leave
 * the graph area. */
void vw_app_update(vw_app *app, double w, double h);

/* The colours a test or a document may name. */
#define VW_HIGHLIGHT_R 1.0
#define VW_HIGHLIGHT_G 0.49
#define VW_HIGHLIGHT_B 0.0

void vw_measure_nodes(vw_model *m);                 /* fills node_w, node_h */
/* Draws one frame of w x h device pixels on cr and records it in app->scene. */
void vw_render(cairo_t *cr, double w, double h, vw_app *app);
/* render.c's helpers for panel.c */
void vw_fill_rect(cairo_t *cr, vw_rect r, double red, double green, double blue);
void vw_rounded(cairo_t *cr, vw_rect r, double radius);
int  vw_wrap(const char *text, int font, double size, double width, char out[][VW_TEXT_MAX],
             int max);
/* panel.c */
void vw_draw_top_bar(cairo_t *cr, vw_app *app);
void vw_draw_bottom_bar(cairo_t *cr, vw_app *app);
void vw_draw_panel(cairo_t *cr, vw_app *app);
void vw_draw_inspector(cairo_t *cr, vw_app *app);
void vw_draw_help(cairo_t *cr, vw_app *app, double w, double h);

/* ---- headless.c ------------------------------------------------------------------------------ */

/* Each returns 0, or -1 with a message naming the file; outputs are written whole or not at all. */
int vw_write_png(vw_app *app, const char *path, int step, int w, int h, char *err, size_t errlen);
/* --frames DIR: DIR holding exactly a frame per step, written as one set by
 * mt_write_dir_atomic, which refuses a DIR holding anything else. names[0..n) are what
 * vw_frame_names gave for DIR: the frames, then those of an earlier, longer run, which go. */
int vw_write_frames(vw_app *app, const char *dir, const char *const *names, int n, int w, int h,
                    char *err, size_t errlen);
/* The names --frames DIR deals with: first *steps frames, one per step of the walk shown, then
 * the frames of an earlier, longer run that DIR holds (step-0042.png past the last step),
 * which go; *n in all. One malloc'd block: the caller frees it with free(). NULL when out of
 * memory. */
enum { VW_FRAME_NAME = 32 };
const char **vw_frame_names(const vw_app *app, const char *dir, int *steps, int *n);
int vw_write_pdf(vw_app *app, const char *path, int w, int h, char *err, size_t errlen);
int vw_write_svg(vw_app *app, const char *path, int step, int w, int h, char *err, size_t errlen);
/* Prints the layout's time and the frame times over every step at w x h, then resident memory
 * after playing every step `passes` times. */
int vw_bench(vw_app *app, int w, int h, int passes, FILE *out);
/* "seed-step-004.png": the file name `s` saves the view under (name sanitised). */
void vw_screenshot_name(const vw_app *app, char *buf, size_t n);
/* Renders the frame the state shows now into an image surface of w x h; the caller destroys it. */
cairo_surface_t *vw_render_image(vw_app *app, int w, int h);

/* ---- outputs.c ------------------------------------------------------------------------------- */

/* The headless outputs, in the order they are written. */
enum { VW_OUT_TRACE, VW_OUT_SCREENSHOT, VW_OUT_SVG, VW_OUT_FRAMES, VW_OUT_PDF, VW_NOUT };

typedef struct vw_outputs {
    mt_output out[VW_NOUT];                /* .flag always set; .path NULL when not asked for */
    volatile sig_atomic_t written[VW_NOUT];
} vw_outputs;

/* Every output checked before anything is drawn (mt_check_outputs): 0; 1 when one cannot be
 * written; 2 when two collide. The message, after its flag, is in err. */
int  vw_outputs_check(const vw_outputs *o, char *err, size_t errlen);
/* From now on SIGINT, SIGTERM, SIGHUP and SIGQUIT remove the temporaries, say which of o's
 * outputs were not written (o->written) and end the process with the signal. o must outlive
 * the process's writing. */
void vw_outputs_catch_signals(vw_outputs *o);

/* ---- window.c -------------------------------------------------------------------------------- */

/* Opens the window and runs until quit. keys: a list of key names played one per frame after
 * the first frames ("right right t s q"), NULL for none. Returns the exit status (1 with a
 * message on stderr when there is no display). */
int vw_window_run(vw_app *app, int w, int h, double scale, const char *keys);

#endif /* MT_VIEWER_H */
