/* test_viewer_cli.c: the "viewer_cli" suite: mytorch-viewer run as a user runs it. Malformed
 * traces and bad command lines are refused with their messages (docs/bad-inputs.md); every
 * output is checked before anything is drawn and written whole or not at all (never through a
 * link planted at a temporary name; --frames as one set); an interrupted run leaves no
 * temporary behind and says what it did not write; the headless outputs are whole files; and a
 * real window under Xvfb, driven by --keys, saves a screenshot. */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw (test_util.h), realpath */
#endif

#include <cairo.h>
#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TEST_TMP_DIR "/tmp/mt_test_viewer_cli_XXXXXX"
#include "test_util.h"

static char g_bin[PATH_MAX];   /* the program, or "" when it is not there */

#define ASSERT_HAS(text, part) \
    ck_assert_msg(strstr((text), (part)) != NULL, "\"%s\" lacks \"%s\"", (text), (part))

static uint32_t pixel(cairo_surface_t *s, int x, int y)
{
    const unsigned char *data = cairo_image_surface_get_data(s);
    return ((const uint32_t *)(const void *)(data + (size_t)y *
                                             cairo_image_surface_get_stride(s)))[x];
}

/* ---- running the program --------------------------------------------------------------------- */
/* runs the program with args in dir (NULL: the scratch directory); its exit status */
static int run(const char *dir, const char *env, const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cd '%s' && %s '%s' %s >out.txt 2>err.txt", dir ? dir : g_tmp,
             env ? env : "", g_bin, args);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void write_text(const char *name, const char *text)
{
    char path[512];
    TMP(path, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    ck_assert_int_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

/* the first `old` after `anchor` replaced by `new` */
static char *edited(const char *text, const char *anchor, const char *old, const char *new)
{
    const char *a = strstr(text, anchor), *o = a ? strstr(a, old) : NULL;
    ck_assert_msg(o != NULL, "\"%s\" after \"%s\" not in the trace", old, anchor);
    char *s = malloc(strlen(text) + strlen(new) + 1);
    memcpy(s, text, (size_t)(o - text));
    strcpy(s + (o - text), new);
    strcat(s, o + strlen(old));
    return s;
}

/* make builds the program before this suite; without it every test fails, naming it */
#define NEED_BINARY() ck_assert_msg(g_bin[0], "mytorch-viewer is not there (set MT_VIEWER)")

START_TEST(malformed_traces_should_be_refused_with_status_1)
{
    NEED_BINARY();
    ck_assert_int_eq(run(NULL, NULL, "--example seed --export-trace good.json"), 0);
    char path[512];
    TMP(path, "good.json");
    char *good = read_all(path);
    ck_assert_int_eq(run(NULL, NULL, "good.json --screenshot ok.png --step 1"), 0);
    struct { const char *name; char *text; const char *says; } bad[] = {
        { "not-json.json", strdup("this is not JSON {"),
          "not JSON: syntax error at line 1, column 1" },
        { "empty.json", strdup(""), "empty: no JSON in it" },
        { "truncated.json", strndup(good, strlen(good) / 2),
          "truncated: the JSON stops after" },
        { "version.json", edited(good, "{", "\"version\":\t1", "\"version\":\t7"),
          "version: 7, but this build reads version 1" },
        { "dangling-edge.json", edited(good, "\"edges\":", "\"from\":\t0", "\"from\":\t42"),
          "edges[0].from: 42 is not a node (the trace has 8)" },
        { "dangling-event.json",
          edited(good, "\"kind\":\t\"visit\"", "\"node\":\t7", "\"node\":\t99"),
          ".node: 99 is not a node (the trace has 8)" },
        { "dangling-root.json", edited(good, "\"walks\":", "\"root\":\t7", "\"root\":\t99"),
          "walks[0].root: 99 is not a node (the trace has 8)" },
    };
    for (int i = 0; i < N_OF(bad); i++) {
        write_text(bad[i].name, bad[i].text);
        char args[256], out[512];
        snprintf(args, sizeof args, "%s --screenshot shot.png --step 1", bad[i].name);
        ck_assert_msg(run(NULL, NULL, args) == 1, "%s: not refused with status 1", bad[i].name);
        TMP(out, "shot.png");
        ck_assert_msg(!file_exists(out), "%s: a screenshot was written anyway", bad[i].name);
        TMP(out, "err.txt");
        char *msg = read_all(out);
        char says[256];
        snprintf(says, sizeof says, "mytorch-viewer: file %s: ", bad[i].name);
        ck_assert_msg(strncmp(msg, says, strlen(says)) == 0,
                      "%s: the message does not start by naming the file: %s", bad[i].name, msg);
        ASSERT_HAS(msg, bad[i].says);
        free(msg);
        free(bad[i].text);
    }
    ck_assert_int_eq(run(NULL, NULL, "missing.json --screenshot shot.png"), 1);
    TMP(path, "err.txt");
    char *msg = read_all(path);
    ASSERT_HAS(msg, "file missing.json: cannot open: No such file or directory");
    free(msg);
    ck_assert_int_eq(run(NULL, NULL, ". --screenshot shot.png"), 1);
    msg = read_all(path);
    ASSERT_HAS(msg, "file .: is a directory");
    free(msg);
    free(good);
}
END_TEST

START_TEST(bad_command_lines_should_be_refused_with_a_message)
{
    NEED_BINARY();
    struct { const char *args; int status; const char *says; } cases[] = {
        { "--example nope --screenshot x.png", 1, "seed, diamond" },
        { "--op nope --case x --screenshot x.png", 1, "unknown op" },
        { "--op mul --case nope --screenshot x.png", 1, "same_3x4" },
        { "--example seed --screenshot x.png --size 12x7", 2, "--size" },
        { "--example seed --screenshot x.png --size banana", 2, "--size" },
        { "--example seed --screenshot x.png --step 99", 2, "steps 1 to 37" },
        { "--example seed --screenshot x.png --step 0", 2, "steps 1 to 37" },
        { "--example seed --frobnicate", 2, "unknown option" },
        { "--example seed --op mul --case same_3x4", 2, "one input" },
        { "--example seed --screenshot /nonexistent-dir/x.png --step 3", 1,
          "/nonexistent-dir/x.png" },
        { "--example seed --pdf /nonexistent-dir/x.pdf", 1, "/nonexistent-dir/x.pdf" },
        { "--example seed --keys 'right jump q'", 2, "unknown key" },
        { "--example random:1 --screenshot x.png", 1, "N must be a whole number from 2 to 5000" },
        { "--example seed --walk sideways --screenshot x.png", 2,
          "bad --walk \"sideways\": dfs-last-first, dfs or topo" },
        { "--example seed --inspect zz --screenshot x.png", 2,
          "--inspect \"zz\": no node of seed has that name" },
        { "--example seed --scale 9 --screenshot x.png", 2, "give a number from 0.5 to 4" },
        { "--example seed --passes 0 --bench", 2, "give a whole number from 1 to 1000" },
        { "--example seed --hover 3 --screenshot x.png", 2, "give X,Y in pixels" },
        { "--example seed --screenshot", 2, "--screenshot needs a value" },
        { "--op mul --screenshot x.png", 2, "--op mul needs --case CASE" },
        { "--example seed --svg x.svg", 2, "--svg needs --step N" },
        { "a.json b.json", 2, "one trace file at a time" },
    };
    for (int i = 0; i < N_OF(cases); i++) {
        int rc = run(NULL, "SDL_VIDEODRIVER=dummy", cases[i].args);
        ck_assert_msg(rc == cases[i].status, "%s: status %d, expected %d", cases[i].args, rc,
                      cases[i].status);
        char path[512];
        TMP(path, "err.txt");
        char *msg = read_all(path);
        ck_assert_msg(strstr(msg, cases[i].says) != NULL, "%s: \"%s\" lacks \"%s\"", cases[i].args,
                      msg, cases[i].says);
        free(msg);
        TMP(path, "x.png");
        ck_assert(!file_exists(path));
    }
    /* no display where a window is needed: status 1, naming the headless flags */
    ck_assert_int_eq(run(NULL, "env -u DISPLAY -u WAYLAND_DISPLAY -u SDL_VIDEODRIVER",
                         "--example seed"), 1);
    char path[512];
    TMP(path, "err.txt");
    char *msg = read_all(path);
    ASSERT_HAS(msg, "--screenshot");
    free(msg);
}
END_TEST

static void png_size(const char *path, int *w, int *h, int *ink)
{
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    ck_assert_msg(cairo_surface_status(s) == CAIRO_STATUS_SUCCESS, "%s is not a PNG", path);
    *w = cairo_image_surface_get_width(s);
    *h = cairo_image_surface_get_height(s);
    *ink = 0;                                            /* pixels that are not background */
    for (int y = 0; y < *h; y += 2)
        for (int x = 0; x < *w; x += 2) {
            uint32_t p = pixel(s, x, y) & 0xffffff;
            if (p != 0xffffff && p != 0xf6f6f3 && p != 0xf6f6f4) (*ink)++;
        }
    cairo_surface_destroy(s);
}

/* the files and directories of the scratch directory whose names end in ".tmp" (symbolic
 * links planted by a test are not counted) */
static int temporaries_left(void)
{
    int n = 0;
    DIR *d = opendir(g_tmp);
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        char path[512];
        struct stat st;
        TMP(path, e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0 && lstat(path, &st) == 0 &&
            !S_ISLNK(st.st_mode)) {
            fprintf(stderr, "left behind: %s\n", e->d_name);
            n++;
        }
    }
    closedir(d);
    return n;
}

START_TEST(headless_outputs_should_be_whole_files)
{
    NEED_BINARY();
    ck_assert_int_eq(run(NULL, NULL, "--example seed --screenshot s.png --step 31 --size 900x600"),
                     0);
    char path[512];
    int w, h, ink;
    TMP(path, "s.png");
    png_size(path, &w, &h, &ink);
    ck_assert(w == 900 && h == 600 && ink > 1000);
    ck_assert_int_eq(run(NULL, NULL, "--example seed --pdf h.pdf --size 640x400"), 0);
    TMP(path, "h.pdf");
    char *pdf = read_all(path);
    ck_assert(strncmp(pdf, "%PDF", 4) == 0);
    free(pdf);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "pdfinfo '%s' 2>/dev/null", path);
    FILE *info = popen(cmd, "r");
    int pages = -1;
    char line[256];
    while (info && fgets(line, sizeof line, info))
        if (strncmp(line, "Pages:", 6) == 0) pages = atoi(line + 6);
    if (info) pclose(info);
    if (pages >= 0) ck_assert_int_eq(pages, 37);         /* a page per step (where pdfinfo is) */
    ck_assert_int_eq(run(NULL, NULL, "--example diamond --svg d.svg --step 20"), 0);
    TMP(path, "d.svg");
    char *svg = read_all(path);
    ck_assert_ptr_nonnull(strstr(svg, "<svg"));
    free(svg);
    ck_assert_int_eq(run(NULL, NULL, "--example seed --frames frames --size 400x300"), 0);
    TMP(path, "frames/step-0037.png");
    ck_assert(file_exists(path));
    TMP(path, "frames/step-0038.png");
    ck_assert(!file_exists(path));
    ck_assert_int_eq(temporaries_left(), 0);
    ck_assert_int_eq(run(NULL, NULL, "--example chain:40 --bench --size 640x360"), 0);
    TMP(path, "out.txt");
    char *out = read_all(path);
    ASSERT_HAS(out, "layout: ");
    ASSERT_HAS(out, "frame: median ");
    free(out);
}
END_TEST

START_TEST(window_should_play_keys_and_save_a_screenshot)
{
    NEED_BINARY();
    bool xvfb = system("command -v xvfb-run >/dev/null 2>&1") == 0;
    /* LeakSanitizer, in a sanitized build, would report what the system's X and D-Bus
     * libraries that SDL loads keep until exit; the viewer's own memory is checked by the
     * headless runs, under valgrind and the sanitizers alike. */
    const char *env = xvfb ? "ASAN_OPTIONS=detect_leaks=0 xvfb-run -a -s '-screen 0 1600x1000x24'"
                           : "ASAN_OPTIONS=detect_leaks=0 SDL_VIDEODRIVER=dummy";
    if (!xvfb) fprintf(stderr, "xvfb-run is missing: the window runs on SDL's dummy driver\n");
    int rc = run(NULL, env, "--example seed --keys 'right right right s q'");
    char path[512];
    TMP(path, "err.txt");
    char *msg = read_all(path);
    ck_assert_msg(rc == 0, "status %d: %s", rc, msg);
    free(msg);
    TMP(path, "out.txt");
    char *out = read_all(path);
    ASSERT_HAS(out, "saved ");
    ASSERT_HAS(out, "seed-step-004.png");
    free(out);
    TMP(path, "seed-step-004.png");
    int w, h, ink;
    png_size(path, &w, &h, &ink);
    ck_assert_msg(w == 1280 && h == 720, "the window's PNG is %dx%d", w, h);
    ck_assert_int_gt(ink, 2000);
}
END_TEST

/* ---- outputs: checked first, written whole ------------------------------------------------- */

static int count_files(const char *dir)
{
    char path[512];
    TMP(path, dir);
    DIR *d = opendir(path);
    ck_assert_msg(d != NULL, "%s is not a directory", path);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

START_TEST(outputs_should_be_checked_before_anything_is_drawn)
{
    NEED_BINARY();
    char path[512];
    TMP(path, "sub");
    ck_assert_int_eq(mkdir(path, 0777), 0);
    TMP(path, "kept");
    ck_assert_int_eq(mkdir(path, 0777), 0);
    write_text("kept/notes.txt", "mine");
    write_text("plain", "a file");
    struct { const char *args; int status; const char *says; } cases[] = {
        { "--screenshot sub --step 2", 1,
          "mytorch-viewer: --screenshot: file sub: is a directory, not a regular file; refusing "
          "to replace it" },
        { "--pdf /dev/null", 1,
          "mytorch-viewer: --pdf: file /dev/null: is a character device, not a regular file" },
        { "--svg '' --step 2", 1, "mytorch-viewer: --svg: the file name is empty" },
        { "--pdf missing/h.pdf", 1,
          "mytorch-viewer: --pdf: file missing/h.pdf: the directory missing does not exist" },
        { "--export-trace plain/t.json", 1, "--export-trace: file plain/t.json: Not a directory" },
        { "--frames plain", 1,
          "mytorch-viewer: --frames: directory plain: is a regular file, not a directory" },
        { "--frames kept", 1,
          "--frames: directory kept: holds 'notes.txt', which is not one of the files saved "
          "there" },
        { "--svg x.svg --pdf ./x.svg --step 2", 2,
          "--svg x.svg and --pdf ./x.svg are the same file" },
        { "--export-trace x.json --screenshot sub/../x.json --step 1", 2,
          "--export-trace x.json and --screenshot sub/../x.json are the same file" },
        { "--frames fr --pdf fr/h.pdf", 2,
          "--pdf fr/h.pdf is inside the --frames directory fr, which is replaced as a whole" },
        { "--screenshot x.png --step 2 --pdf sub", 1, "--pdf: file sub: is a directory" },
    };
    for (int i = 0; i < N_OF(cases); i++) {
        char args[512];
        snprintf(args, sizeof args, "--example seed %s", cases[i].args);
        int rc = run(NULL, NULL, args);
        TMP(path, "err.txt");
        char *msg = read_all(path);
        ck_assert_msg(rc == cases[i].status, "%s: status %d, expected %d (%s)", args, rc,
                      cases[i].status, msg);
        ck_assert_msg(strstr(msg, cases[i].says) != NULL, "%s: \"%s\" lacks \"%s\"", args, msg,
                      cases[i].says);
        free(msg);
        /* nothing was written: not the outputs that could be, nor a temporary */
        const char *never[] = { "x.png", "x.svg", "x.json", "fr", "h.pdf" };
        for (int k = 0; k < N_OF(never); k++) {
            TMP(path, never[k]);
            ck_assert_msg(!file_exists(path), "%s: %s was written", args, never[k]);
        }
        ck_assert_int_eq(temporaries_left(), 0);
    }
    TMP(path, "kept/notes.txt");
    char *notes = read_all(path);
    ck_assert_str_eq(notes, "mine");
    free(notes);
}
END_TEST

START_TEST(outputs_should_not_follow_a_planted_link_and_should_write_through_a_given_one)
{
    NEED_BINARY();
    char path[512], target[512];
    write_text("victim", "keep me");
    /* a link planted where a fixed temporary name would be */
    TMP(path, "victim");
    TMP(target, "h.pdf.tmp");
    ck_assert_int_eq(symlink(path, target), 0);
    TMP(target, "s.svg.tmp");
    ck_assert_int_eq(symlink(path, target), 0);
    ck_assert_int_eq(run(NULL, NULL, "--example seed --pdf h.pdf --svg s.svg --step 5"), 0);
    char *victim = read_all(path);
    ck_assert_str_eq(victim, "keep me");
    free(victim);
    TMP(path, "h.pdf");
    char *pdf = read_all(path);
    ck_assert(strncmp(pdf, "%PDF", 4) == 0);
    free(pdf);
    /* an output that is a link: the file it names is written, and the link stays */
    TMP(path, "real.png");
    TMP(target, "link.png");
    ck_assert_int_eq(symlink("real.png", target), 0);
    ck_assert_int_eq(run(NULL, NULL, "--example seed --screenshot link.png --step 5"), 0);
    struct stat st;
    ck_assert_int_eq(lstat(target, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    int w, h, ink;
    png_size(path, &w, &h, &ink);
    ck_assert(w == 1280 && h == 720 && ink > 1000);
    /* the planted links are still links, and nothing else ends in .tmp */
    TMP(path, "h.pdf.tmp");
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_int_eq(temporaries_left(), 0);
}
END_TEST

START_TEST(frames_should_replace_an_earlier_set_as_a_whole)
{
    NEED_BINARY();
    ck_assert_int_eq(run(NULL, NULL, "--example diamond --frames fr --size 320x240"), 0);
    int longer = count_files("fr");
    ck_assert_int_gt(longer, 37);
    ck_assert_int_eq(run(NULL, NULL, "--example seed --frames fr --size 320x240"), 0);
    ck_assert_int_eq(count_files("fr"), 37);            /* the seed's 37 steps, nothing else */
    char path[512];
    TMP(path, "fr/step-0038.png");
    ck_assert(!file_exists(path));
    TMP(path, "out.txt");
    char *out = read_all(path);
    ASSERT_HAS(out, "wrote fr (37 frames)");
    free(out);
    ck_assert_int_eq(temporaries_left(), 0);
}
END_TEST

/* starts the program on args in the scratch directory; its pid */
static pid_t start(const char *const *args)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (chdir(g_tmp) != 0 || !freopen("out.txt", "w", stdout) ||
            !freopen("err.txt", "w", stderr))
            _exit(127);
        char *argv[16];
        int n = 0;
        argv[n++] = g_bin;
        for (; args[n - 1] && n < 15; n++) argv[n] = (char *)args[n - 1];
        argv[n] = NULL;
        execv(g_bin, argv);
        _exit(127);
    }
    return pid;
}

/* waits (up to two minutes) until the scratch directory holds a directory whose name starts
 * with prefix and ends in ".tmp" (a set of files being written) with at least `files` entries */
static bool wait_for_temporary(const char *prefix, int files)
{
    for (int tries = 0; tries < 2400; tries++) {
        DIR *d = opendir(g_tmp);
        int most = -1;
        for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
            size_t len = strlen(e->d_name);
            if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 || len < 5 ||
                strcmp(e->d_name + len - 4, ".tmp") != 0)
                continue;
            char path[512];
            TMP(path, e->d_name);
            DIR *in = opendir(path);
            int n = 0;
            for (struct dirent *f; in && (f = readdir(in)) != NULL;) n += f->d_name[0] != '.';
            if (in) closedir(in);
            if (n > most) most = n;
        }
        if (d) closedir(d);
        if (most >= files) return true;
        nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
    }
    return false;
}

START_TEST(an_interrupted_run_should_leave_no_temporary_and_say_what_it_did_not_write)
{
    NEED_BINARY();
    /* an earlier set of frames, which the interrupted run must leave as it was */
    ck_assert_int_eq(run(NULL, NULL, "--example seed --frames fr --size 320x240"), 0);
    const char *args[] = { "--example", "chain:1500", "--size", "240x200", "--frames", "fr",
                           "--pdf", "h.pdf", NULL };
    pid_t pid = start(args);
    /* more frames written than the library has slots for single temporaries (64) */
    bool writing = wait_for_temporary("fr.", 100);
    kill(pid, SIGTERM);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(writing, "no temporary directory of 100 frames appeared while the frames "
                  "were written");
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM,
                  "the program did not end by SIGTERM (status %d)", status);
    char path[512];
    TMP(path, "err.txt");
    char *msg = read_all(path);
    ASSERT_HAS(msg, "mytorch-viewer: interrupted by SIGTERM; not written: --frames fr, --pdf "
                    "h.pdf (no temporary file is left behind)");
    free(msg);
    ck_assert_int_eq(temporaries_left(), 0);
    ck_assert_int_eq(count_files("fr"), 37);             /* the earlier set, whole */
    TMP(path, "h.pdf");
    ck_assert(!file_exists(path));
}
END_TEST

/* ---- runner ---------------------------------------------------------------------------------- */

static void find_binary(void)
{
    const char *env = getenv("MT_VIEWER");
    char self[PATH_MAX], guess[PATH_MAX + 32];
    if (env && *env) snprintf(guess, sizeof guess, "%s", env);
    else {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        self[n > 0 ? n : 0] = 0;
        char *slash = strrchr(self, '/');
        if (slash) *slash = 0;
        snprintf(guess, sizeof guess, "%s/../bin/mytorch-viewer", n > 0 ? self : ".");
    }
    if (!realpath(guess, g_bin) || access(g_bin, X_OK) != 0) {
        fprintf(stderr, "test_viewer_cli: %s is not there (make _test builds it; or set "
                "MT_VIEWER)\n", guess);
        g_bin[0] = 0;
    }
}


static Suite *viewer_cli_suite(void)
{
    Suite *s = suite_create("viewer_cli");
    TCase *program = tcase_create("program");
    tcase_add_checked_fixture(program, tmp_setup, tmp_teardown);
    tcase_add_test(program, malformed_traces_should_be_refused_with_status_1);
    tcase_add_test(program, bad_command_lines_should_be_refused_with_a_message);
    tcase_add_test(program, headless_outputs_should_be_whole_files);
    tcase_add_test(program, window_should_play_keys_and_save_a_screenshot);
    tcase_set_timeout(program, 180);
    suite_add_tcase(s, program);

    TCase *outputs = tcase_create("outputs");
    tcase_add_checked_fixture(outputs, tmp_setup, tmp_teardown);
    tcase_add_test(outputs, outputs_should_be_checked_before_anything_is_drawn);
    tcase_add_test(outputs,
                   outputs_should_not_follow_a_planted_link_and_should_write_through_a_given_one);
    tcase_add_test(outputs, frames_should_replace_an_earlier_set_as_a_whole);
    tcase_add_test(outputs,
                   an_interrupted_run_should_leave_no_temporary_and_say_what_it_did_not_write);
    tcase_set_timeout(outputs, 240);
    suite_add_tcase(s, outputs);
    return s;
}

int main(void)
{
    find_binary();
    return run_suite(viewer_cli_suite());
}
