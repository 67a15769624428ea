//! AV1 through libaom (the `aom` feature): its all-intra mode, one
//! thread. At the same quality (and so the same SSIMULACRA2) it writes
//! fewer bytes than rav1e at the default speed, in more time (README,
//! "libaom: the `aom` feature").

use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::ptr::{null, null_mut};

use libaom_sys::*;

/// Everything below that decides the bytes, for the codec identity:
/// change it with any setting or mapping here, so that AVIF outputs
/// rebuild.
pub(crate) const SETTINGS: &str = "all-intra, speed table v2, tune ssim, \
     8-bit BT.601 4:4:4, hidden colour flattened, cq-level knots v1";

/// libaom's `cpu-used` for thumbgen's `speed` (1–10), and whether it
/// searches rectangular partitions. Bytes at sharp's score, as a ratio to
/// sharp's, and encoder CPU for 40 photos at 640 px (README, "Where each
/// encoder setting lands"):
///
/// - 10 (the default): cpu-used 6, 1.08× in 7.5 s.
/// - 9: cpu-used 5 without rectangular partitions, 1.04× in 13 s.
/// - 8: cpu-used 5, 1.01× in 31–37 s (sharp's own effort).
/// - 7 to 4: cpu-used 4 to 1; 3 and below: cpu-used 0.
///
/// cpu-used 7 and above are not reached: 7 saves a third of 6's time for
/// 5% more bytes, and AVIF is chosen for its bytes.
fn speed_settings(speed: u8) -> (i32, bool) {
    match speed.clamp(1, 10) {
        10 => (6, true),
        9 => (5, false),
        speed => ((i32::from(speed) - 3).max(0), true),
    }
}

/// libaom's cq-level (0–63) for `quality` (1–100), so that a quality
/// scores what rav1e's does at it: `quality` keeps one meaning, whichever
/// encoder a build has. Interpolated between [`CQ_KNOTS`].
fn cq_level(quality: u8) -> u32 {
    let q = f32::from(quality.clamp(1, 100));
    let upper = CQ_KNOTS
        .iter()
        .position(|&(knot, _)| knot >= q)
        .unwrap_or(CQ_KNOTS.len() - 1)
        .max(1);
    let ((q0, cq0), (q1, cq1)) = (CQ_KNOTS[upper - 1], CQ_KNOTS[upper]);
    let cq = cq0 + (cq1 - cq0) * (q - q0) / (q1 - q0);
    cq.round().clamp(0., 63.) as u32
}

/// (quality, cq-level) at equal SSIMULACRA2: at each quality, the mean
/// score of rav1e's AVIF of 40 shop photos at 640 px, and the cq-level at
/// which libaom (cpu-used 6) scores the same on the same pixels
/// (`bench/avif_front.py`; README, "libaom: the `aom` feature"). The ends are the
/// scales' ends.
const CQ_KNOTS: [(f32, f32); 8] = [
    (1., 63.),
    (50., 37.2),
    (60., 34.0),
    (70., 30.7),
    (80., 27.2),
    (85., 20.8),
    (90., 14.5),
    (100., 0.),
];

/// An encoder context that is destroyed however the encode ends.
struct Context(aom_codec_ctx_t);

impl Context {
    fn error(&self, doing: &str) -> String {
        let text = |p: *const std::os::raw::c_char| {
            // SAFETY: libaom's error strings are NUL-terminated, static or
            // owned by the context, which outlives this copy.
            (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
        };
        // SAFETY: the context was initialised (only such are wrapped).
        let message = text(unsafe { aom_codec_error(&self.0) }).unwrap_or_default();
        // SAFETY: as above.
        match text(unsafe { aom_codec_error_detail(&self.0) }) {
            Some(detail) => format!("libaom {doing}: {message} ({detail})"),
            None => format!("libaom {doing}: {message}"),
        }
    }

    fn control(&mut self, id: u32, value: i32, name: &str) -> Result<(), String> {
        // SAFETY: an initialised context; every control used takes an int.
        match unsafe { aom_codec_control(&mut self.0, id as i32, value) } {
            AOM_CODEC_OK => Ok(()),
            _ => Err(self.error(&format!("refused {name}={value}"))),
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: only initialised contexts are wrapped.
        unsafe { aom_codec_destroy(&mut self.0) };
    }
}

/// An image libaom allocated, freed however the encode ends.
struct Image(*mut aom_image_t);

impl Drop for Image {
    fn drop(&mut self) {
        // SAFETY: allocated by aom_img_alloc, freed once.
        unsafe { aom_img_free(self.0) };
    }
}

/// One AV1 key frame of three planes (4:4:4 colour) or of one
/// (monochrome: alpha), full range, at `quality` and `speed` as
/// [`crate::encode`] takes them.
pub(crate) fn encode_planes(
    planes: &[Vec<u8>],
    (width, height): (u32, u32),
    quality: u8,
    speed: u8,
) -> Result<Vec<u8>, String> {
    let monochrome = planes.len() == 1;
    // SAFETY: the calls follow libaom's simple_encoder example: a config
    // from the defaults, one image allocated by libaom and filled within
    // its planes' strides, the packets copied out before the context and
    // the image are dropped.
    unsafe {
        let iface = aom_codec_av1_cx();
        let mut cfg = MaybeUninit::<aom_codec_enc_cfg>::zeroed().assume_init();
        if aom_codec_enc_config_default(iface, &mut cfg, AOM_USAGE_ALL_INTRA) != AOM_CODEC_OK {
            return Err("libaom has no all-intra configuration".into());
        }
        cfg.g_w = width;
        cfg.g_h = height;
        // Outputs are already encoded in parallel, one per core.
        cfg.g_threads = 1;
        cfg.g_limit = 1;
        cfg.g_lag_in_frames = 0;
        // Profile 1 carries 4:4:4; monochrome needs profile 0.
        cfg.g_profile = if monochrome { 0 } else { 1 };
        cfg.monochrome = u32::from(monochrome);
        cfg.g_bit_depth = AOM_BITS_8;
        cfg.g_input_bit_depth = 8;
        cfg.rc_end_usage = AOM_Q;
        cfg.rc_min_quantizer = 0;
        cfg.rc_max_quantizer = 63;
        cfg.kf_mode = AOM_KF_DISABLED;
        let mut raw = MaybeUninit::<aom_codec_ctx_t>::zeroed().assume_init();
        if aom_codec_enc_init_ver(&mut raw, iface, &cfg, 0, AOM_ENCODER_ABI_VERSION as i32)
            != AOM_CODEC_OK
        {
            let detail = raw.err_detail;
            let detail = if detail.is_null() {
                String::new()
            } else {
                format!(": {}", CStr::from_ptr(detail).to_string_lossy())
            };
            return Err(format!("libaom would not start{detail}"));
        }
        let mut ctx = Context(raw);
        let (cpu_used, rectangular) = speed_settings(speed);
        ctx.control(AOME_SET_CPUUSED, cpu_used, "cpu-used")?;
        if !rectangular {
            ctx.control(AV1E_SET_ENABLE_RECT_PARTITIONS, 0, "rect-partitions")?;
        }
        ctx.control(AOME_SET_CQ_LEVEL, cq_level(quality) as i32, "cq-level")?;
        // Not quantisation matrices with perceptual and chroma delta-q:
        // 0.4% fewer bytes at equal score for 15% more time (README).
        ctx.control(AOME_SET_TUNING, AOM_TUNE_SSIM as i32, "tune")?;
        ctx.control(
            AV1E_SET_COLOR_RANGE,
            AOM_CR_FULL_RANGE as i32,
            "color-range",
        )?;
        if !monochrome {
            ctx.control(
                AV1E_SET_MATRIX_COEFFICIENTS,
                AOM_CICP_MC_BT_601 as i32,
                "matrix",
            )?;
            ctx.control(
                AV1E_SET_COLOR_PRIMARIES,
                AOM_CICP_CP_BT_709 as i32,
                "primaries",
            )?;
            ctx.control(
                AV1E_SET_TRANSFER_CHARACTERISTICS,
                AOM_CICP_TC_SRGB as i32,
                "transfer",
            )?;
        }
        let format = if monochrome {
            // libaom reads a monochrome image from an I420 buffer's Y plane.
            AOM_IMG_FMT_I420
        } else {
            AOM_IMG_FMT_I444
        };
        let image = Image(aom_img_alloc(null_mut(), format, width, height, 16));
        if image.0.is_null() {
            return Err(format!(
                "libaom could not allocate a {width}x{height} image"
            ));
        }
        let img = &mut *image.0;
        img.range = AOM_CR_FULL_RANGE;
        img.monochrome = i32::from(monochrome);
        let (w, h) = (width as usize, height as usize);
        for (p, plane) in planes.iter().enumerate() {
            let stride = img.stride[p] as usize;
            for row in 0..h {
                let line = std::slice::from_raw_parts_mut(img.planes[p].add(row * stride), w);
                line.copy_from_slice(&plane[row * w..][..w]);
            }
        }
        if monochrome {
            // The chroma planes of the buffer are not read, but keep them
            // defined: (w+1)/2 × (h+1)/2 at mid-grey.
            for p in 1..3 {
                let stride = img.stride[p] as usize;
                for row in 0..h.div_ceil(2) {
                    let line = std::slice::from_raw_parts_mut(
                        img.planes[p].add(row * stride),
                        w.div_ceil(2),
                    );
                    line.fill(128);
                }
            }
        }
        if aom_codec_encode(&mut ctx.0, image.0, 0, 1, 0) != AOM_CODEC_OK {
            return Err(ctx.error("could not encode"));
        }
        let mut av1 = Vec::new();
        for flush in [false, true] {
            if flush && aom_codec_encode(&mut ctx.0, null(), 0, 0, 0) != AOM_CODEC_OK {
                return Err(ctx.error("could not finish"));
            }
            let mut iter = null();
            loop {
                let packet = aom_codec_get_cx_data(&mut ctx.0, &mut iter);
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
        if av1.is_empty() {
            return Err("libaom wrote no frame".into());
        }
        Ok(av1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_10_is_cpu_used_6_and_each_step_down_searches_more() {
        assert_eq!(speed_settings(10), (6, true));
        assert_eq!(speed_settings(9), (5, false));
        assert_eq!(speed_settings(8), (5, true));
        assert_eq!(speed_settings(7), (4, true));
        assert_eq!(speed_settings(1), (0, true));
        assert_eq!(speed_settings(0), (0, true));
    }

    #[test]
    fn cq_level_falls_as_quality_rises() {
        assert_eq!(cq_level(100), 0);
        assert_eq!(cq_level(1), 63);
        for q in 1..100 {
            assert!(cq_level(q + 1) <= cq_level(q), "{q}");
        }
    }
}
