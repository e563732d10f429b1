#ifndef IUMAD_CPNG_SHIM_H
#define IUMAD_CPNG_SHIM_H

// libpng reports errors by longjmp-ing out of its error callback. Swift frames must never be
// unwound that way, so the whole setjmp-guarded read and write sequences live here in C and
// return a status code plus a message instead.

#include <png.h>
#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  IUMAD_PNG_OK = 0,
  IUMAD_PNG_CANNOT_OPEN = 1,   // fopen failed; message holds strerror
  IUMAD_PNG_NOT_PNG = 2,       // signature mismatch (or shorter than a signature)
  IUMAD_PNG_TRUNCATED = 3,     // the file ended before libpng had all it needed
  IUMAD_PNG_LIBPNG_ERROR = 4,  // libpng rejected the data; message holds its text
  IUMAD_PNG_TOO_LARGE = 5,     // dimensions whose buffer would not fit in memory limits
  IUMAD_PNG_BAD_ARGUMENT = 6,  // write: unsupported channel count or bit depth
};

// State shared with the callbacks through libpng's error/io pointers. It lives in caller memory,
// not in automatic variables of the setjmp frame, so its contents survive the longjmp.
typedef struct {
  FILE *file;
  png_bytep *rows;
  unsigned char *pixels;  // read: malloc'd, rows packed; 16-bit samples are big-endian
  uint32_t width, height;
  int channels;           // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
  int bit_depth;          // 8 or 16
  int hit_eof;
  char message[256];
} iumad_png_state;

static inline void iumad_png_on_error(png_structp png, png_const_charp msg) {
  iumad_png_state *s = (iumad_png_state *)png_get_error_ptr(png);
  if (s && s->message[0] == 0) snprintf(s->message, sizeof s->message, "%s", msg);
  png_longjmp(png, 1);
}

static inline void iumad_png_on_warning(png_structp png, png_const_charp msg) {
  (void)png;
  (void)msg;  // warnings (e.g. unknown chunks) are not our caller's problem
}

// Our own read callback, so that running out of bytes is told apart from corrupt data.
static inline void iumad_png_read_bytes(png_structp png, png_bytep out, size_t length) {
  iumad_png_state *s = (iumad_png_state *)png_get_io_ptr(png);
  if (fread(out, 1, length, s->file) != length) {
    s->hit_eof = 1;
    png_error(png, "unexpected end of file");
  }
}

static inline void iumad_png_release(iumad_png_state *s, int keep_pixels) {
  if (s->file) fclose(s->file);
  s->file = NULL;
  free(s->rows);
  s->rows = NULL;
  if (!keep_pixels) {
    free(s->pixels);
    s->pixels = NULL;
  }
}

static inline int iumad_png_open(iumad_png_state *s, const char *path, const char *mode) {
  s->file = fopen(path, mode);
  if (s->file) return IUMAD_PNG_OK;
  snprintf(s->message, sizeof s->message, "%s", strerror(errno));
  return IUMAD_PNG_CANNOT_OPEN;
}

/// Reads a PNG into s->pixels (caller frees with iumad_png_free_pixels). Palette images come back
/// as RGB, sub-byte gray as 8-bit, tRNS as an alpha channel; 8- and 16-bit depths are kept.
static inline int iumad_png_read(const char *path, iumad_png_state *s) {
  memset(s, 0, sizeof *s);
  if (iumad_png_open(s, path, "rb") != IUMAD_PNG_OK) return IUMAD_PNG_CANNOT_OPEN;
  unsigned char sig[8];
  if (fread(sig, 1, 8, s->file) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
    iumad_png_release(s, 0);
    return IUMAD_PNG_NOT_PNG;
  }
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s, iumad_png_on_error,
                                           iumad_png_on_warning);
  if (!png) {
    iumad_png_release(s, 0);
    snprintf(s->message, sizeof s->message, "out of memory");
    return IUMAD_PNG_LIBPNG_ERROR;
  }
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, info ? &info : NULL, NULL);
    int code = s->hit_eof ? IUMAD_PNG_TRUNCATED : IUMAD_PNG_LIBPNG_ERROR;
    iumad_png_release(s, 0);
    return code;
  }
  png_set_read_fn(png, s, iumad_png_read_bytes);
  png_set_sig_bytes(png, 8);
  png_read_info(png, info);
  int color_type = png_get_color_type(png, info);
  int depth = png_get_bit_depth(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  s->width = png_get_image_width(png, info);
  s->height = png_get_image_height(png, info);
  s->channels = png_get_channels(png, info);
  s->bit_depth = png_get_bit_depth(png, info);
  size_t rowbytes = png_get_rowbytes(png, info);
  // 1 GiB is far beyond any inspection image; refusing it keeps a corrupt header from OOM-ing us.
  if (s->height == 0 || rowbytes == 0 || rowbytes > ((size_t)1 << 30) / s->height) {
    png_destroy_read_struct(&png, &info, NULL);
    iumad_png_release(s, 0);
    snprintf(s->message, sizeof s->message, "image of %ux%u is too large", s->width, s->height);
    return IUMAD_PNG_TOO_LARGE;
  }
  s->pixels = (unsigned char *)malloc(rowbytes * s->height);
  s->rows = (png_bytep *)malloc(sizeof(png_bytep) * s->height);
  if (!s->pixels || !s->rows) png_error(png, "out of memory");
  for (uint32_t y = 0; y < s->height; y++) s->rows[y] = s->pixels + (size_t)y * rowbytes;
  png_read_image(png, s->rows);
  png_read_end(png, NULL);
  png_destroy_read_struct(&png, &info, NULL);
  iumad_png_release(s, 1);
  return IUMAD_PNG_OK;
}

static inline void iumad_png_free_pixels(iumad_png_state *s) {
  free(s->pixels);
  s->pixels = NULL;
}

/// Writes packed rows (16-bit samples big-endian) as a non-interlaced PNG. `level` is the zlib
/// level 0...9, or -1 for libpng's default.
static inline int iumad_png_write(const char *path, uint32_t width, uint32_t height, int channels,
                                  int bit_depth, const unsigned char *pixels, int level,
                                  iumad_png_state *s) {
  memset(s, 0, sizeof *s);
  int color_type;
  switch (channels) {
    case 1: color_type = PNG_COLOR_TYPE_GRAY; break;
    case 2: color_type = PNG_COLOR_TYPE_GRAY_ALPHA; break;
    case 3: color_type = PNG_COLOR_TYPE_RGB; break;
    case 4: color_type = PNG_COLOR_TYPE_RGBA; break;
    default:
      snprintf(s->message, sizeof s->message, "unsupported channel count %d", channels);
      return IUMAD_PNG_BAD_ARGUMENT;
  }
  if ((bit_depth != 8 && bit_depth != 16) || width == 0 || height == 0) {
    snprintf(s->message, sizeof s->message, "unsupported bit depth %d or empty image", bit_depth);
    return IUMAD_PNG_BAD_ARGUMENT;
  }
  if (iumad_png_open(s, path, "wb") != IUMAD_PNG_OK) return IUMAD_PNG_CANNOT_OPEN;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, s, iumad_png_on_error,
                                            iumad_png_on_warning);
  if (!png) {
    iumad_png_release(s, 0);
    snprintf(s->message, sizeof s->message, "out of memory");
    return IUMAD_PNG_LIBPNG_ERROR;
  }
  png_infop info = png_create_info_struct(png);
  if (!info || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, info ? &info : NULL);
    iumad_png_release(s, 0);
    return IUMAD_PNG_LIBPNG_ERROR;
  }
  png_init_io(png, s->file);
  if (level >= 0) png_set_compression_level(png, level);
  png_set_IHDR(png, info, width, height, bit_depth, color_type, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  size_t rowbytes = (size_t)width * channels * (bit_depth / 8);
  s->rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
  if (!s->rows) png_error(png, "out of memory");
  for (uint32_t y = 0; y < height; y++) s->rows[y] = (png_bytep)pixels + (size_t)y * rowbytes;
  png_write_image(png, s->rows);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  FILE *f = s->file;
  s->file = NULL;
  iumad_png_release(s, 1);
  if (fclose(f) != 0) {
    snprintf(s->message, sizeof s->message, "%s", strerror(errno));
    return IUMAD_PNG_CANNOT_OPEN;
  }
  return IUMAD_PNG_OK;
}

#endif
