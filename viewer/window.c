/* window.c: the SDL2 window, the only file that sees SDL.h. Each frame is events -> state ->
 * draw: SDL events change the state (state.c), vw_render draws the frame on a cairo image
 * surface the size of the window's drawable (HiDPI-sharp), and an SDL texture of the same pixel
 * format shows it. The surface and texture are made again only when the size changes, so
 * playing allocates nothing per frame. */
#include "viewer.h"

#include "../src/draw/draw.h"

#include <SDL.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_KEYS 256
#define KEY_GAP_MS 120      /* between played keys: each one gets its frames */
#define TRAVEL_S 0.45       /* how long a gradient takes along its edge after a key press */

typedef struct named_key { const char *name; SDL_Keycode code; } named_key;

static const named_key key_names[] = {
    { "right", SDLK_RIGHT }, { "left", SDLK_LEFT }, { "space", SDLK_SPACE }, { "plus", SDLK_PLUS },
    { "minus", SDLK_MINUS }, { "home", SDLK_HOME }, { "end", SDLK_END }, { "t", SDLK_t },
    { "o", SDLK_o }, { "f", SDLK_f }, { "s", SDLK_s }, { "h", SDLK_h }, { "?", SDLK_QUESTION },
    { "q", SDLK_q }, { "esc", SDLK_ESCAPE }, { "up", SDLK_UP }, { "down", SDLK_DOWN },
};

/* "right right t s q" -> key codes; -1 with a message on an unknown name */
static int parse_keys(const char *text, SDL_Keycode *out, int max)
{
    int n = 0;
    const char *p = text;
    while (p && *p) {
        while (*p == ' ' || *p == ',') p++;
        const char *q = p;
        while (*q && *q != ' ' && *q != ',') q++;
        if (q == p) break;
        int found = -1;
        for (int i = 0; i < MT_COUNT(key_names); i++)
            if ((size_t)(q - p) == strlen(key_names[i].name) &&
                strncmp(p, key_names[i].name, (size_t)(q - p)) == 0)
                found = i;
        if (found < 0) {
            fprintf(stderr, "mytorch-viewer: --keys: unknown key \"%.*s\" (the keys: right left "
                    "space plus minus home end up down t o f s h ? q esc)\n", (int)(q - p), p);
            return -1;
        }
        if (n < max) out[n++] = key_names[found].code;
        p = q;
    }
    return n;
}

typedef struct window {
    SDL_Window      *win;
    SDL_Renderer    *ren;
    SDL_Texture     *tex;
    cairo_surface_t *surface;
    cairo_t         *cr;
    int              pw, ph;          /* the drawable, in pixels */
    double           ratio;           /* drawable pixels per window point */
    double           scale;           /* --scale */
    bool             quit, dirty, dragging, dragged;
    int              drag_x, drag_y;
    Uint32           message_at;
} window;

static void sizes(window *w)
{
    int ww = 1, wh = 1;
    SDL_GetWindowSize(w->win, &ww, &wh);
    if (SDL_GetRendererOutputSize(w->ren, &w->pw, &w->ph) != 0) { w->pw = ww; w->ph = wh; }
    w->ratio = ww > 0 ? (double)w->pw / ww : 1;
}

/* the surface and texture, made again when the drawable's size changed: 0, or -1 */
static int ensure_surface(window *w)
{
    if (w->surface && cairo_image_surface_get_width(w->surface) == w->pw &&
        cairo_image_surface_get_height(w->surface) == w->ph)
        return 0;
    if (w->cr) cairo_destroy(w->cr);
    if (w->surface) cairo_surface_destroy(w->surface);
    if (w->tex) SDL_DestroyTexture(w->tex);
    /* CAIRO_FORMAT_ARGB32 is 32-bit native-endian ARGB: SDL's ARGB8888 */
    w->surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w->pw, w->ph);
    w->cr = cairo_create(w->surface);
    w->tex = SDL_CreateTexture(w->ren, SDL_PIXELFORMAT_ARGB8888, SDL_TEXTUREACCESS_STREAMING,
                               w->pw, w->ph);
    if (!w->tex || cairo_surface_status(w->surface) != CAIRO_STATUS_SUCCESS) {
        fprintf(stderr, "mytorch-viewer: cannot make a %dx%d frame: %s\n", w->pw, w->ph,
                SDL_GetError());
        return -1;
    }
    return 0;
}

static void say(window *w, vw_app *app, const char *fmt, const char *arg)
{
    snprintf(app->state.message, sizeof app->state.message, fmt, arg);
    w->message_at = SDL_GetTicks();
}

static void save_png(window *w, vw_app *app)
{
    char name[256], where[4096], err[512];
    vw_screenshot_name(app, name, sizeof name);
    cairo_surface_flush(w->surface);
    if (mt_draw_png_write(name, w->surface, err, sizeof err) != 0) {
        fprintf(stderr, "mytorch-viewer: %s\n", err);
        say(w, app, "could not save: %.220s", err);
        return;
    }
    char cwd[2048];
    snprintf(where, sizeof where, "%s/%s", getcwd(cwd, sizeof cwd) ? cwd : ".", name);
    printf("saved %s (%dx%d)\n", where, w->pw, w->ph);
    fflush(stdout);
    say(w, app, "saved %.230s", where);
}

static void on_key(window *w, vw_app *app, SDL_Keycode k, Uint16 mod)
{
    vw_state *s = &app->state;
    const vw_model *m = &app->model;
    vw_frame_geom g = vw_frame_geometry(w->pw, w->ph, s->ui, s->selected >= 0);
    int last = vw_step_count(m, s->walk) - 1;
    w->dirty = true;
    switch (k) {
    case SDLK_RIGHT: case SDLK_DOWN: s->playing = false; vw_state_step(s, m, +1); break;
    case SDLK_LEFT: case SDLK_UP: s->playing = false; vw_state_step(s, m, -1); break;
    case SDLK_HOME: vw_state_goto(s, m, 0); break;
    case SDLK_END: vw_state_goto(s, m, last); break;
    case SDLK_SPACE:
        s->playing = !s->playing;
        if (s->playing && s->step >= last) vw_state_goto(s, m, 0);
        break;
    case SDLK_PLUS: case SDLK_EQUALS: case SDLK_KP_PLUS: s->speed = fmin(s->speed * 1.5, 40); break;
    case SDLK_MINUS: case SDLK_KP_MINUS: s->speed = fmax(s->speed / 1.5, 0.25); break;
    case SDLK_t: {
        bool topo = s->walk >= 0 && m->trace->walks[s->walk].traversal == MT_TOPO;
        vw_state_switch_walk(s, m, topo ? s->last_dfs : MT_TOPO);
        w->message_at = SDL_GetTicks();
        break;
    }
    case SDLK_o: {
        bool last_first = s->walk >= 0 && m->trace->walks[s->walk].traversal == MT_DFS_LAST_FIRST;
        vw_state_switch_walk(s, m, last_first ? MT_DFS : MT_DFS_LAST_FIRST);
        w->message_at = SDL_GetTicks();
        break;
    }
    case SDLK_f: vw_state_fit(s, &app->layout, g); break;
    case SDLK_s: save_png(w, app); break;
    case SDLK_h: case SDLK_QUESTION: s->help = !s->help; break;
    case SDLK_SLASH: if (mod & KMOD_SHIFT) s->help = !s->help; break;
    case SDLK_ESCAPE:
        if (s->help) s->help = false;
        else if (s->selected >= 0) s->selected = -1;
        else w->quit = true;
        break;
    case SDLK_q: w->quit = true; break;
    default: w->dirty = false; break;
    }
}

static void on_event(window *w, vw_app *app, const SDL_Event *ev)
{
    vw_state *s = &app->state;
    double x, y;
    switch (ev->type) {
    case SDL_QUIT: w->quit = true; break;
    case SDL_KEYDOWN: on_key(w, app, ev->key.keysym.sym, ev->key.keysym.mod); break;
    case SDL_WINDOWEVENT: w->dirty = true; break;
    case SDL_MOUSEBUTTONDOWN:
        if (ev->button.button != SDL_BUTTON_LEFT) break;
        w->dragging = true;
        w->dragged = false;
        w->drag_x = ev->button.x;
        w->drag_y = ev->button.y;
        break;
    case SDL_MOUSEBUTTONUP:
        if (ev->button.button != SDL_BUTTON_LEFT) break;
        w->dragging = false;
        if (!w->dragged) {                     /* a click: inspect the node under it */
            vw_frame_geom g = vw_frame_geometry(w->pw, w->ph, s->ui, s->selected >= 0);
            int hit = vw_pick_node(s, &app->layout, &app->derived, g, ev->button.x * w->ratio,
                                   ev->button.y * w->ratio);
            if (hit >= 0) s->selected = hit == s->selected ? -1 : hit;
            w->dirty = true;
        }
        break;
    case SDL_MOUSEMOTION:
        s->mouse_x = ev->motion.x * w->ratio;
        s->mouse_y = ev->motion.y * w->ratio;
        s->mouse_in = true;
        if (w->dragging) {
            if (abs(ev->motion.x - w->drag_x) + abs(ev->motion.y - w->drag_y) > 3)
                w->dragged = true;
            if (w->dragged) {
                s->cam_x -= ev->motion.xrel * w->ratio / s->zoom;
                s->cam_y -= ev->motion.yrel * w->ratio / s->zoom;
            }
        }
        w->dirty = true;
        break;
    case SDL_MOUSEWHEEL: {
        int mx, my;
        SDL_GetMouseState(&mx, &my);
        x = mx * w->ratio;
        y = my * w->ratio;
        vw_frame_geom g = vw_frame_geometry(w->pw, w->ph, s->ui, s->selected >= 0);
        vw_state_zoom_at(s, g, x, y, pow(1.15, ev->wheel.y));
        w->dirty = true;
        break;
    }
    default: break;
    }
}

/* time passes: the travelling gradient moves, and while playing the cursor moves on */
static void advance(window *w, vw_app *app, double dt)
{
    vw_state *s = &app->state;
    int last = vw_step_count(&app->model, s->walk) - 1;
    if (s->playing) {
        s->anim += dt * s->speed;
        while (s->anim >= 1 && s->playing) {
            if (s->step >= last) { s->playing = false; s->anim = 1; break; }
            s->step++;
            s->anim -= 1;
        }
        w->dirty = true;
    } else if (s->anim < 1) {
        s->anim = fmin(1, s->anim + dt / TRAVEL_S);
        w->dirty = true;
    }
    if (s->message[0] && SDL_GetTicks() - w->message_at > 5000) {
        s->message[0] = 0;
        w->dirty = true;
    }
}

static void present(window *w, vw_app *app)
{
    vw_app_update(app, w->pw, w->ph);
    vw_render(w->cr, w->pw, w->ph, app);
    cairo_surface_flush(w->surface);
    SDL_UpdateTexture(w->tex, NULL, cairo_image_surface_get_data(w->surface),
                      cairo_image_surface_get_stride(w->surface));
    SDL_RenderClear(w->ren);
    SDL_RenderCopy(w->ren, w->tex, NULL, NULL);
    SDL_RenderPresent(w->ren);
}

static void close_window(window *w)
{
    if (w->cr) cairo_destroy(w->cr);
    if (w->surface) cairo_surface_destroy(w->surface);
    if (w->tex) SDL_DestroyTexture(w->tex);
    if (w->ren) SDL_DestroyRenderer(w->ren);
    if (w->win) SDL_DestroyWindow(w->win);
    SDL_Quit();
}

int vw_window_run(vw_app *app, int width, int height, double scale, const char *keys)
{
    SDL_Keycode played[MAX_KEYS];
    int nkeys = keys ? parse_keys(keys, played, MAX_KEYS) : 0;
    if (nkeys < 0) return 2;
    const char *driver = getenv("SDL_VIDEODRIVER");
    if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY") && !(driver && driver[0])) {
        fprintf(stderr, "mytorch-viewer: cannot open a window: there is no display (DISPLAY is not "
                "set).\nWithout a display, render with --screenshot FILE --step N, --frames DIR, "
                "--pdf FILE, --svg FILE --step N or --export-trace FILE, or run the window under a "
                "virtual display: xvfb-run -a mytorch-viewer ...\n");
        return 1;
    }
    window w = { 0 };
    w.scale = scale;
    if (SDL_Init(SDL_INIT_VIDEO) != 0) {
        fprintf(stderr, "mytorch-viewer: cannot open a window: %s\nWithout a display, use "
                "--screenshot FILE --step N, --frames DIR, --pdf FILE or --svg FILE --step N.\n",
                SDL_GetError());
        return 1;
    }
    char title[128];
    snprintf(title, sizeof title, "MyTorch viewer: %s", app->model.name);
    w.win = SDL_CreateWindow(title, SDL_WINDOWPOS_CENTERED, SDL_WINDOWPOS_CENTERED, width, height,
                             SDL_WINDOW_RESIZABLE | SDL_WINDOW_ALLOW_HIGHDPI);
    if (w.win)
        w.ren = SDL_CreateRenderer(w.win, -1, SDL_RENDERER_ACCELERATED | SDL_RENDERER_PRESENTVSYNC);
    if (w.win && !w.ren) w.ren = SDL_CreateRenderer(w.win, -1, SDL_RENDERER_SOFTWARE);
    if (!w.win || !w.ren) {
        fprintf(stderr, "mytorch-viewer: cannot open a window: %s\n", SDL_GetError());
        close_window(&w);
        return 1;
    }
    sizes(&w);
    /* the first frame: fitted to the real drawable, at the display's pixel ratio */
    double ui0 = app->state.ui;
    app->state.ui = scale * w.ratio;
    app->state.zoom *= app->state.ui / ui0;
    vw_frame_geom g = vw_frame_geometry(w.pw, w.ph, app->state.ui, app->state.selected >= 0);
    vw_state_fit(&app->state, &app->layout, g);
    if (app->state.zoom < 0.55 * app->state.ui) app->state.zoom = 0.9 * app->state.ui;
    app->shown_step = -2;

    int next_key = 0, frames = 0, status = 0;
    Uint32 last = SDL_GetTicks(), key_at = last;
    w.dirty = true;
    while (!w.quit) {
        SDL_Event ev;
        bool idle = !w.dirty && !app->state.playing && app->state.anim >= 1 && next_key >= nkeys;
        if (idle && SDL_WaitEventTimeout(&ev, 250)) on_event(&w, app, &ev);
        while (SDL_PollEvent(&ev)) on_event(&w, app, &ev);
        if (w.quit) break;
        Uint32 t = SDL_GetTicks();
        advance(&w, app, (t - last) / 1000.0);
        last = t;
        sizes(&w);
        double ui = scale * w.ratio;
        if (fabs(ui - app->state.ui) > 1e-9) {     /* moved to a display of another density */
            app->state.zoom *= ui / app->state.ui;
            app->state.ui = ui;
        }
        if (ensure_surface(&w) != 0) { status = 1; break; }
        if (w.dirty || frames < 3) {
            present(&w, app);
            w.dirty = false;
            frames++;
        }
        if (keys && frames >= 3 && t - key_at >= KEY_GAP_MS) {   /* the next played key */
            if (next_key < nkeys) {
                SDL_Event k = { 0 };
                k.type = SDL_KEYDOWN;
                k.key.state = SDL_PRESSED;
                k.key.windowID = SDL_GetWindowID(w.win);
                k.key.keysym.sym = played[next_key++];
                SDL_PushEvent(&k);
                key_at = t;
            } else if (t - key_at >= 3 * KEY_GAP_MS) {
                break;                             /* played them all: done */
            }
        }
        Uint32 spent = SDL_GetTicks() - t;
        if (!idle && spent < 16) SDL_Delay(16 - spent);
    }
    close_window(&w);
    return status;
}
