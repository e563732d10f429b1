#ifndef IUMAD_CTIFF_SHIM_H
#define IUMAD_CTIFF_SHIM_H

// libtiff prints errors and warnings to stderr by default and reports tags through C varargs,
// which Swift cannot call. This header routes a file's errors into caller memory (so they become
// Swift errors naming the file) and wraps the tag accessors in fixed-signature functions.

#include <tiffio.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

// Filled by the handlers of one open TIFF; the first error is kept (later ones tend to be
// consequences of it).
typedef struct {
  int errors;
  char message[512];
} iumad_tiff_messages;

static inline int iumad_tiff_on_error(TIFF *tif, void *user, const char *module, const char *fmt,
                                      va_list ap) {
  (void)tif;
  iumad_tiff_messages *m = (iumad_tiff_messages *)user;
  if (m) {
    if (m->errors == 0) {
      char text[448];
      vsnprintf(text, sizeof text, fmt, ap);
      snprintf(m->message, sizeof m->message, "%s: %s", module ? module : "libtiff", text);
    }
    m->errors++;
  }
  return 1;  // handled: do not call the global (stderr) handler
}

static inline int iumad_tiff_on_warning(TIFF *tif, void *user, const char *module,
                                        const char *fmt, va_list ap) {
  (void)tif; (void)user; (void)module; (void)fmt; (void)ap;
  return 1;  // warnings (unknown tags, ...) are silenced
}

/// Silences libtiff's process-wide stderr handlers, used for errors not tied to an open file.
static inline void iumad_tiff_silence_global_handlers(void) {
  TIFFSetErrorHandler(NULL);
  TIFFSetWarningHandler(NULL);
}

/// TIFFOpen whose errors and warnings go to `m` instead of stderr.
static inline TIFF *iumad_tiff_open(const char *path, const char *mode, iumad_tiff_messages *m) {
  TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
  if (!opts) return NULL;
  TIFFOpenOptionsSetErrorHandlerExtR(opts, iumad_tiff_on_error, m);
  TIFFOpenOptionsSetWarningHandlerExtR(opts, iumad_tiff_on_warning, NULL);
  TIFF *tif = TIFFOpenExt(path, mode, opts);
  TIFFOpenOptionsFree(opts);
  return tif;
}

// Tag accessors with the C types libtiff documents for each tag (uint16 or uint32). The getters
// apply libtiff's defaults for absent tags and return 0 only when the tag has no value at all.
static inline int iumad_tiff_get_u16(TIFF *tif, uint32_t tag, uint16_t *out) {
  return TIFFGetFieldDefaulted(tif, tag, out);
}
static inline int iumad_tiff_get_u32(TIFF *tif, uint32_t tag, uint32_t *out) {
  return TIFFGetFieldDefaulted(tif, tag, out);
}
static inline int iumad_tiff_set_u16(TIFF *tif, uint32_t tag, uint16_t value) {
  return TIFFSetField(tif, tag, (int)value);  // varargs promote uint16 to int
}
static inline int iumad_tiff_set_u32(TIFF *tif, uint32_t tag, uint32_t value) {
  return TIFFSetField(tif, tag, value);
}

#endif
