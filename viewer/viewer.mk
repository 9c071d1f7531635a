# viewer/viewer.mk: mytorch-viewer and its test suite, included by the top-level Makefile (which
# defines BUILD, the flags, the core library $(STATIC) and the drawing library $(DRAW_LIB)).
# The viewer needs SDL2 (window.c only) and Graphviz (layout.c only) on top of cairo and Pango.

VIEWER        := $(BUILD)/bin/mytorch-viewer
VIEWER_SRC    := $(wildcard viewer/*.c)
VIEWER_OBJ    := $(VIEWER_SRC:viewer/%.c=$(BUILD)/viewer/%.o)
# everything but the command line and the window: what the test suite links
VIEWER_CORE   := $(filter-out $(BUILD)/viewer/main.o $(BUILD)/viewer/window.o,$(VIEWER_OBJ))
VIEWER_CFLAGS  = $(call pc,--cflags,sdl2 libgvc)
# dot's layout plugin is linked in (layout.c names it), from Graphviz's plugin directory
GV_PLUGINS     = $(call pc,--variable=libdir,libgvc)/graphviz
VIEWER_LIBS    = $(call pc,--libs,sdl2 libgvc) -L$(GV_PLUGINS) -Wl,-rpath,$(GV_PLUGINS) \
                 -lgvplugin_dot_layout

$(BUILD)/viewer/%.o: viewer/%.c
	@mkdir -p $(@D)
	$(CC) $(WARN) $(CFLAGS) $(SAN) $(CPPFLAGS_ALL) $(LIB_CFLAGS) $(CAIRO_CFLAGS) $(VIEWER_CFLAGS) \
	  -MMD -MP -c $< -o $@

$(VIEWER): $(VIEWER_OBJ) $(DRAW_LIB) $(STATIC)
	@mkdir -p $(@D)
	$(CC) $(SAN) -o $@ $^ $(LIB_LIBS) $(CAIRO_LIBS) $(VIEWER_LIBS)

# The suite runs the program too (a real window under Xvfb, malformed traces), so it is built
# first; the suite finds it beside itself, in ../bin, or through MT_VIEWER.
$(BUILD)/tests/test_viewer: $(BUILD)/cairo/tests/test_viewer.o $(VIEWER_CORE) $(DRAW_LIB) \
                            $(STATIC) | $(VIEWER)
	@mkdir -p $(@D)
	$(CC) $(SAN) -o $@ $^ $(CHECK_FLAGS) $(LIB_LIBS) $(CAIRO_LIBS) $(VIEWER_LIBS)


# The program's suite runs only the program (and reads its PNGs with cairo).
$(BUILD)/tests/test_viewer_cli: $(BUILD)/cairo/tests/test_viewer_cli.o $(STATIC) | $(VIEWER)
	@mkdir -p $(@D)
	$(CC) $(SAN) -o $@ $^ $(CHECK_FLAGS) $(LIB_LIBS) $(CAIRO_LIBS)
