/*
 * Scaled JPEG decoding and encoding through the libjpeg API of the vendored
 * mozjpeg (a libjpeg-turbo fork, built from source by the mozjpeg-sys crate
 * and linked statically; its headers come from DEP_JPEG_INCLUDE, see
 * build.rs), for `jpeg.rs`. libjpeg-turbo's SIMD Huffman and reduced-size
 * IDCTs are what make shrink-on-load fast; the pure-Rust decoders measured
 * 1.4x slower on the same scaled decode.
 *
 * Plain C entry points: no libjpeg struct crosses into Rust, so the binding
 * does not depend on the library's struct layout. Headers are read here too
 * (not by a Rust parser), so every JPEG libjpeg decodes is accepted.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#define TG_ERROR_LEN 200

/* What the header says; `exif` and `icc` are malloc'd (free with
 * tg_jpeg_free) or NULL. */
typedef struct {
    int width;
    int height;
    int components;         /* of the decoded output: 1 gray, 3 RGB, 4 CMYK (ink) */
    unsigned char *exif;    /* the TIFF data of the first Exif APP1 segment */
    unsigned int exif_len;
    unsigned char *icc;     /* the ICC profile, reassembled from its APP2 chunks */
    unsigned int icc_len;
    char error[TG_ERROR_LEN];
} tg_jpeg_info;

typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    int reading_pixels;     /* a premature end while reading pixels is examined */
    int ended;              /* the data ran out while reading pixels */
    int ended_early;        /* ... before the last row of blocks was being read */
    int starved;            /* the entropy decoder needed bits past the end */
    const JOCTET *data;     /* the file, in memory */
    unsigned long len;
    int damaged;            /* libjpeg read past damaged image data */
    char damage[TG_ERROR_LEN]; /* ... and said this of it first */
} tg_error;

static void tg_error_exit(j_common_ptr cinfo) {
    tg_error *err = (tg_error *)cinfo->err;
    longjmp(err->jump, 1);
}

/* Whether the `n` bytes libjpeg skipped before the marker it just found
 * are all zero: padding some encoders write between the last scan and the
 * end marker, not image data the decoder lost its way in. libjpeg has
 * consumed them, and no more, when it warns. */
static int tg_zero_padding(const tg_error *err, j_common_ptr cinfo, unsigned int n) {
    const JOCTET *next = ((struct jpeg_decompress_struct *)cinfo)->src->next_input_byte;
    /* (Not so when the file ran out and libjpeg supplied an end marker.) */
    if (next < err->data || next > err->data + err->len || (unsigned long)(next - err->data) < n) {
        return 0;
    }
    for (const JOCTET *p = next - n; p < next; p++) {
        if (*p != 0) {
            return 0;
        }
    }
    return 1;
}

static void tg_emit_message(j_common_ptr cinfo, int level) {
    tg_error *err = (tg_error *)cinfo->err;
    /* Warnings while the header is read (extraneous bytes between header
     * segments, common from cameras; a bad ICC chunk) cost no pixel and are
     * ignored. Once image data is read, libjpeg's warnings mean it met
     * damaged data and filled in or guessed (grey, stripes): the caller
     * fails the file with libjpeg's words. One exception is whole: the data
     * is complete and only the end marker (EOI) is missing; libjpeg pads a
     * file that really ends early with grey, which is told apart below. */
    if (level >= 0 || !err->reading_pixels) {
        return;
    }
    struct jpeg_decompress_struct *d = (struct jpeg_decompress_struct *)cinfo;
    switch (err->mgr.msg_code) {
    case JWRN_JPEG_EOF:
        err->ended = 1;
        /* A single-scan file is decoded one row of blocks at a time: the end
         * may only come while the last row is decoded (the Huffman decoder
         * reads ahead). A buffered (progressive or multi-scan) file is read
         * whole first, and is judged after, from its coefficient bits. */
        if (err->reading_pixels == 1 && !d->buffered_image && !d->progressive_mode
            && d->comps_in_scan == d->num_components
            && d->input_iMCU_row + 1 < d->total_iMCU_rows) {
            err->ended_early = 1;
        }
        return;
    case JWRN_HIT_MARKER:
        if (err->ended) {
            err->starved = 1;
            return;
        }
        break;
    case JWRN_EXTRANEOUS_DATA:
        /* Zeros before the end marker pad a complete image. */
        if (err->mgr.msg_parm.i[1] == JPEG_EOI
            && tg_zero_padding(err, cinfo, (unsigned int)err->mgr.msg_parm.i[0])) {
            return;
        }
        break;
    default:
        break;
    }
    if (!err->damaged) {
        err->damaged = 1;
        err->mgr.format_message(cinfo, err->damage);
    }
}

/* Whether a file whose data ran out was still whole: nothing was missing
 * when it was needed and, for a progressive file, every coefficient of
 * every component was refined to full precision (no later scan was lost).
 * A multi-scan sequential file cannot tell, and counts as truncated. */
static int tg_whole_without_eoi(const struct jpeg_decompress_struct *d, const tg_error *err) {
    if (err->ended_early || err->starved) {
        return 0;
    }
    if (d->progressive_mode) {
        if (d->coef_bits == NULL) {
            return 0;
        }
        for (int c = 0; c < d->num_components; c++) {
            for (int k = 0; k < DCTSIZE2; k++) {
                if (d->coef_bits[c][k] != 0) {
                    return 0;
                }
            }
        }
        return 1;
    }
    return d->comps_in_scan == d->num_components;
}

static void tg_output_message(j_common_ptr cinfo) { (void)cinfo; }

/* What a failed call returns: -2 for a valid JPEG of a kind this libjpeg
 * does not implement (12-bit, lossless, hierarchical, a feature left out at
 * build time), -1 for anything else (a damaged or truncated file). (A
 * decode that libjpeg finished by filling in damaged data returns -3.) */
static int tg_failure(const tg_error *err) {
    switch (err->mgr.msg_code) {
    case JERR_BAD_PRECISION:
    case JERR_SOF_UNSUPPORTED:
    case JERR_NOT_COMPILED:
    case JERR_ARITH_NOTIMPL:
        return -2;
    default:
        return -1;
    }
}

/* An error manager that longjmps back instead of exiting the process. */
static struct jpeg_error_mgr *tg_error_init(tg_error *err) {
    memset(err, 0, sizeof(*err));
    jpeg_std_error(&err->mgr);
    err->mgr.error_exit = tg_error_exit;
    err->mgr.emit_message = tg_emit_message;
    err->mgr.output_message = tg_output_message;
    return &err->mgr;
}

void tg_jpeg_free(unsigned char *pixels) { free(pixels); }

/* Decoded colour layout: grey stays grey, CMYK and YCCK come out as CMYK,
 * everything else as RGB. */
static void tg_set_output(struct jpeg_decompress_struct *cinfo) {
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
        cinfo->out_color_space = JCS_GRAYSCALE;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo->out_color_space = JCS_CMYK;
        break;
    default:
        cinfo->out_color_space = JCS_RGB;
        break;
    }
}

/*
 * Read the header of `data`: size, output components, Exif and ICC. Returns
 * 0 on success; otherwise -1 or -2 (see tg_failure) with `out->error` set. libjpeg reads every
 * JPEG process it can decode (baseline, progressive, arithmetic coding).
 */
int tg_jpeg_read_info(const unsigned char *data, unsigned long len, tg_jpeg_info *out) {
    struct jpeg_decompress_struct cinfo;
    tg_error err;

    memset(out, 0, sizeof(*out));
    cinfo.err = tg_error_init(&err);
    if (setjmp(err.jump)) {
        err.mgr.format_message((j_common_ptr)&cinfo, out->error);
        jpeg_destroy_decompress(&cinfo);
        free(out->exif);
        free(out->icc);
        out->exif = NULL;
        out->icc = NULL;
        return tg_failure(&err);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (unsigned char *)data, len);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 2, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);
    tg_set_output(&cinfo);
    jpeg_calc_output_dimensions(&cinfo);

    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length > 6 &&
            memcmp(m->data, "Exif\0\0", 6) == 0) {
            out->exif = malloc(m->data_length - 6);
            if (out->exif) {
                memcpy(out->exif, m->data + 6, m->data_length - 6);
                out->exif_len = m->data_length - 6;
            }
            break;
        }
    }
    JOCTET *icc = NULL;
    unsigned int icc_len = 0;
    /* A damaged profile only costs the profile (libjpeg warns, no error). */
    if (jpeg_read_icc_profile(&cinfo, &icc, &icc_len)) {
        out->icc = icc;
        out->icc_len = icc_len;
    }
    out->width = (int)cinfo.image_width;
    out->height = (int)cinfo.image_height;
    out->components = cinfo.out_color_components;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

/*
 * Decode `data` at `eighths`/8 of its size (1, 2, 4 or 8) into `pixels`,
 * which must hold exactly the scaled size times the components that
 * tg_jpeg_read_info reported. Returns 0, or -1 or -2 (see tg_failure), or
 * -3 when libjpeg warned of damaged image data, with `error` set (libjpeg's
 * words). `*missing_eoi` is set when the file was whole but for its end
 * marker.
 */
int tg_jpeg_decode(const unsigned char *data, unsigned long len, int eighths,
                   unsigned char *pixels, unsigned long long pixels_len, int *missing_eoi,
                   char *error) {
    struct jpeg_decompress_struct cinfo;
    tg_error err;

    cinfo.err = tg_error_init(&err);
    if (setjmp(err.jump)) {
        err.mgr.format_message((j_common_ptr)&cinfo, error);
        jpeg_destroy_decompress(&cinfo);
        return tg_failure(&err);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (unsigned char *)data, len);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.scale_num = (unsigned int)eighths;
    cinfo.scale_denom = 8;
    tg_set_output(&cinfo);
    jpeg_calc_output_dimensions(&cinfo);

    unsigned long long row = (unsigned long long)cinfo.output_width * cinfo.output_components;
    if (row * cinfo.output_height != pixels_len) {
        snprintf(error, TG_ERROR_LEN, "decoded size is not what the header said");
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }

    /* A progressive file is read whole by jpeg_start_decompress. */
    err.data = data;
    err.len = len;
    err.reading_pixels = 1;
    jpeg_start_decompress(&cinfo);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW rows[4];
        int n = 0;
        for (; n < 4 && cinfo.output_scanline + n < cinfo.output_height; n++) {
            rows[n] = pixels + (size_t)row * (cinfo.output_scanline + n);
        }
        jpeg_read_scanlines(&cinfo, rows, (JDIMENSION)n);
    }
    if (err.ended && !tg_whole_without_eoi(&cinfo, &err)) {
        snprintf(error, TG_ERROR_LEN, "file ends before the image data does (truncated)");
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    /* Read on to the end marker: a decoder that lost its way in damaged
     * data leaves bytes over, which only show there. The frame is complete,
     * so running out of data now only loses the marker. */
    err.reading_pixels = 2;
    jpeg_finish_decompress(&cinfo);
    /* Adobe's CMYK JPEGs store inverted values. */
    int inverted = cinfo.out_color_space == JCS_CMYK && cinfo.saw_Adobe_marker;
    jpeg_destroy_decompress(&cinfo);
    *missing_eoi = err.ended;
    if (err.damaged) {
        memcpy(error, err.damage, TG_ERROR_LEN);
        return -3;
    }

    /* Hand out ink amounts. */
    if (inverted) {
        for (unsigned long long i = 0; i < pixels_len; i++) {
            pixels[i] = (unsigned char)(255 - pixels[i]);
        }
    }
    return 0;
}

/*
 * Encode `pixels` (rows of `width` x `components` bytes; 1 = gray, 3 = RGB)
 * as a baseline JPEG at `quality`, 4:2:0 for colour, with `icc` embedded
 * when given. Returns 0 and a malloc'd buffer in `*out`/`*out_len` (free
 * with tg_jpeg_free), or -1 with `error` set.
 */
int tg_jpeg_encode(const unsigned char *pixels, int width, int height, int components,
                   int quality, const unsigned char *icc, unsigned int icc_len,
                   unsigned char **out, unsigned long *out_len, char *error) {
    struct jpeg_compress_struct cinfo;
    tg_error err;
    unsigned char *volatile buffer = NULL;
    unsigned long size = 0;

    *out = NULL;
    *out_len = 0;
    cinfo.err = tg_error_init(&err);
    if (setjmp(err.jump)) {
        err.mgr.format_message((j_common_ptr)&cinfo, error);
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return -1;
    }

    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, (unsigned char **)&buffer, &size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = components;
    cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    /* mozjpeg's jpeg_set_defaults otherwise picks its max-compression
     * profile (progressive, trellis quantisation, optimised Huffman tables:
     * several times slower). JCP_FASTEST gives libjpeg-turbo's baseline
     * defaults; it must be set before jpeg_set_defaults. */
    jpeg_c_set_int_param(&cinfo, JINT_COMPRESS_PROFILE, JCP_FASTEST);
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    /* Fixed 4:2:0 whatever the quality: small files, and chroma detail
     * hardly shows at thumbnail size. (jpeg_set_defaults already picks it;
     * said here so that a library default change cannot alter outputs.) */
    if (components == 3) {
        cinfo.comp_info[0].h_samp_factor = 2;
        cinfo.comp_info[0].v_samp_factor = 2;
        cinfo.comp_info[1].h_samp_factor = 1;
        cinfo.comp_info[1].v_samp_factor = 1;
        cinfo.comp_info[2].h_samp_factor = 1;
        cinfo.comp_info[2].v_samp_factor = 1;
    }
    cinfo.dct_method = JDCT_ISLOW;
    jpeg_start_compress(&cinfo, TRUE);
    if (icc && icc_len > 0) {
        jpeg_write_icc_profile(&cinfo, icc, icc_len);
    }
    size_t row = (size_t)width * (size_t)components;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW rows[1];
        rows[0] = (JSAMPROW)(pixels + row * cinfo.next_scanline);
        jpeg_write_scanlines(&cinfo, rows, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *out = buffer;
    *out_len = size;
    return 0;
}
