//! `avif-aom IN.png OUT.avif QUALITY CPU_USED [knob=value ...]`: libaom on
//! one thread, 8-bit 4:4:4 with SSIM tuning, quality mapped to cq-level as
//! libheif does (what sharp runs, at its `effort` 4: cpu-used 5, usage
//! "good").
//!
//! Knobs: usage=good|intra (default intra, libaom's all-intra mode),
//! tune=ssim|psnr|iq (iq: libaom 3.12 or later, linked as README's "libaom:
//! the `aom` feature" says), depth=8|10 (default 8), and libaom controls by number value: qm, qm_min, qm_max,
//! sharpness, deltaq_mode, deltaq_strength, chroma_deltaq, cdef; and any
//! other int control by its id in `aom/aomcx.h`, as `cID=value` (`c73=0`:
//! no rectangular partitions).

use avif_front::{aom_cq_level, args, read_png, write_avif, Args};
use libaom_sys::*;
use std::mem::zeroed;
use std::ptr::{null, null_mut};

fn control(ctx: &mut aom_codec_ctx_t, id: u32, value: i32, name: &str) {
    // SAFETY: `ctx` is an initialised encoder; every control used takes an int.
    let status = unsafe { aom_codec_control(ctx, id as i32, value) };
    assert_eq!(status, AOM_CODEC_OK, "libaom refused {name}={value}");
}

fn main() {
    let Args {
        input,
        output,
        quality,
        speed,
        knobs,
    } = args("avif-aom");
    let knob = |name: &str| {
        knobs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let depth: u8 = knob("depth").map_or(8, |d| d.parse().expect("depth is 8 or 10"));
    let planes = read_png(&input, depth);
    let (w, h) = (planes.width as u32, planes.height as u32);
    let usage = match knob("usage") {
        Some("good") => AOM_USAGE_GOOD_QUALITY,
        _ => AOM_USAGE_ALL_INTRA,
    };
    // SAFETY: the libaom calls follow its simple_encoder example: a config
    // from the defaults, one image allocated and filled within its planes'
    // strides, its packets copied out before the context is destroyed.
    let av1 = unsafe {
        let iface = aom_codec_av1_cx();
        let mut cfg: aom_codec_enc_cfg = zeroed();
        assert_eq!(
            aom_codec_enc_config_default(iface, &mut cfg, usage),
            AOM_CODEC_OK
        );
        cfg.g_w = w;
        cfg.g_h = h;
        cfg.g_threads = 1;
        cfg.g_limit = 1;
        cfg.g_lag_in_frames = 0;
        cfg.g_profile = 1; // 4:4:4
        cfg.g_bit_depth = if depth == 10 { AOM_BITS_10 } else { AOM_BITS_8 };
        cfg.g_input_bit_depth = u32::from(depth);
        cfg.rc_end_usage = AOM_Q;
        cfg.rc_min_quantizer = 0;
        cfg.rc_max_quantizer = 63;
        cfg.kf_mode = AOM_KF_DISABLED;
        let mut ctx: aom_codec_ctx_t = zeroed();
        let flags = if depth == 10 {
            AOM_CODEC_USE_HIGHBITDEPTH as aom_codec_flags_t
        } else {
            0
        };
        let init =
            aom_codec_enc_init_ver(&mut ctx, iface, &cfg, flags, AOM_ENCODER_ABI_VERSION as i32);
        assert_eq!(init, AOM_CODEC_OK, "libaom would not start");
        control(&mut ctx, AOME_SET_CPUUSED, i32::from(speed), "cpu-used");
        control(
            &mut ctx,
            AOME_SET_CQ_LEVEL,
            aom_cq_level(quality) as i32,
            "cq-level",
        );
        let tune = match knob("tune") {
            Some("psnr") => AOM_TUNE_PSNR,
            // Image quality (libaom 3.12 and later; 3.11's bindings do
            // not name it).
            Some("iq") => 10,
            _ => AOM_TUNE_SSIM,
        };
        control(&mut ctx, AOME_SET_TUNING, tune as i32, "tune");
        control(
            &mut ctx,
            AV1E_SET_COLOR_RANGE,
            AOM_CR_FULL_RANGE as i32,
            "color-range",
        );
        control(
            &mut ctx,
            AV1E_SET_MATRIX_COEFFICIENTS,
            AOM_CICP_MC_BT_601 as i32,
            "matrix",
        );
        for (name, id) in [
            ("qm", AV1E_SET_ENABLE_QM),
            ("qm_min", AV1E_SET_QM_MIN),
            ("qm_max", AV1E_SET_QM_MAX),
            ("sharpness", AOME_SET_SHARPNESS),
            ("deltaq_mode", AV1E_SET_DELTAQ_MODE),
            ("deltaq_strength", AV1E_SET_DELTAQ_STRENGTH),
            ("chroma_deltaq", AV1E_SET_ENABLE_CHROMA_DELTAQ),
            ("cdef", AV1E_SET_ENABLE_CDEF),
        ] {
            if let Some(v) = knob(name) {
                control(&mut ctx, id, v.parse().expect("a number"), name);
            }
        }
        for (name, value) in &knobs {
            if let Some(id) = name.strip_prefix('c').and_then(|id| id.parse::<u32>().ok()) {
                control(&mut ctx, id, value.parse().expect("a number"), name);
            }
        }
        let format = if depth == 10 {
            AOM_IMG_FMT_I44416
        } else {
            AOM_IMG_FMT_I444
        };
        let image = aom_img_alloc(null_mut(), format, w, h, 16);
        assert!(!image.is_null(), "libaom could not allocate the image");
        (*image).range = AOM_CR_FULL_RANGE;
        (*image).mc = AOM_CICP_MC_BT_601;
        (*image).cp = AOM_CICP_CP_BT_709;
        (*image).tc = AOM_CICP_TC_SRGB;
        for p in 0..3 {
            let stride = (*image).stride[p] as usize;
            for row in 0..planes.height {
                let start = (*image).planes[p].add(row * stride);
                for col in 0..planes.width {
                    let value = planes.sample(p, row, col, false);
                    if depth == 10 {
                        start.cast::<u16>().add(col).write_unaligned(value);
                    } else {
                        *start.add(col) = value as u8;
                    }
                }
            }
        }
        assert_eq!(aom_codec_encode(&mut ctx, image, 0, 1, 0), AOM_CODEC_OK);
        let mut av1 = Vec::new();
        for flush in [false, true] {
            if flush {
                assert_eq!(aom_codec_encode(&mut ctx, null(), 0, 0, 0), AOM_CODEC_OK);
            }
            let mut iter = null();
            loop {
                let packet = aom_codec_get_cx_data(&mut ctx, &mut iter);
                if packet.is_null() {
                    break;
                }
                if (*packet).kind == AOM_CODEC_CX_FRAME_PKT {
                    let frame = (*packet).data.frame;
                    av1.extend_from_slice(std::slice::from_raw_parts(
                        frame.buf as *const u8,
                        frame.sz,
                    ));
                }
            }
        }
        aom_img_free(image);
        aom_codec_destroy(&mut ctx);
        av1
    };
    write_avif(&output, &av1, &planes);
}
