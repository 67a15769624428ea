//! AV1 through libaom (the `aom` feature): its all-intra mode, one
//! thread. At the same quality (and so the same SSIMULACRA2) it writes
//! fewer bytes than rav1e at the default speed, in more time (README,
//! "libaom: the `aom` feature").
//!
//! The libaom linked may be the one libaom-sys vendors (3.11) or a newer
//! one a build points libaom-sys at (`LIB_AOM_STATIC_LIB_PATH`). From 3.12
//! libaom has a tuning for still images, `AOM_TUNE_IQ`, which writes 23%
//! fewer bytes at the same score; the tuning, and the quality mapping
//! fitted to it, follow the library linked.

use std::ffi::CStr;
use std::mem::MaybeUninit;
use std::ptr::{null, null_mut};
use std::sync::LazyLock;

use libaom_sys::*;

/// Everything below that decides the bytes, for the codec identity:
/// the libaom linked (its own version, not the bindings') and the
/// settings, so that a change of either rebuilds AVIF outputs.
static SETTINGS: LazyLock<String> = LazyLock::new(|| {
    let (major, minor, patch) = linked_version();
    format!(
        "libaom {major}.{minor}.{patch}, all-intra, speed table v2, tune {}, \
         8-bit BT.601 4:4:4, hidden colour flattened, cq-level knots {}",
        TUNING.name, TUNING.knots_version
    )
});

pub(crate) fn settings() -> &'static str {
    &SETTINGS
}

/// The tuning of the libaom linked, chosen once: every encode and the
/// codec identity use the same.
static TUNING: LazyLock<Tuning> = LazyLock::new(|| Tuning::of(linked_version()));

/// The version of the libaom linked, as (major, minor, patch).
fn linked_version() -> (u32, u32, u32) {
    // SAFETY: a constant of the library, no arguments.
    let v = unsafe { aom_codec_version() } as u32;
    ((v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff)
}

/// libaom's tuning, and the quality mapping measured with it.
#[derive(Debug, PartialEq)]
struct Tuning {
    /// `AOME_SET_TUNING`'s value.
    tune: u32,
    name: &'static str,
    /// (quality, cq-level) at equal SSIMULACRA2; see [`cq_level`].
    knots: &'static [(f32, f32)],
    knots_version: &'static str,
}

/// `AOM_TUNE_IQ`, which 3.11's bindings do not name.
const AOM_TUNE_IQ: u32 = 10;

impl Tuning {
    /// Image quality where the library has it (3.12 and later): at
    /// sharp's score it writes 0.77× the bytes of SSIM's tuning at
    /// cpu-used 6, for 17% more encoder time (README, "libaom: the `aom`
    /// feature"). Not `AOM_TUNE_SSIMULACRA2` (3.13): libaom says its
    /// further gains in that score are not seen by people.
    fn of(version: (u32, u32, u32)) -> Tuning {
        if version >= (3, 12, 0) {
            Tuning {
                tune: AOM_TUNE_IQ,
                name: "iq",
                knots: &IQ_CQ_KNOTS,
                knots_version: "iq v1",
            }
        } else {
            Tuning {
                tune: AOM_TUNE_SSIM,
                name: "ssim",
                knots: &SSIM_CQ_KNOTS,
                knots_version: "v1",
            }
        }
    }
}

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
/// encoder a build has. Interpolated between `knots`.
fn cq_level(quality: u8, knots: &[(f32, f32)]) -> u32 {
    let q = f32::from(quality.clamp(1, 100));
    let upper = knots
        .iter()
        .position(|&(knot, _)| knot >= q)
        .unwrap_or(knots.len() - 1)
        .max(1);
    let ((q0, cq0), (q1, cq1)) = (knots[upper - 1], knots[upper]);
    let cq = cq0 + (cq1 - cq0) * (q - q0) / (q1 - q0);
    cq.round().clamp(0., 63.) as u32
}

/// (quality, cq-level) at equal SSIMULACRA2, tuned for SSIM (libaom
/// 3.11): at each quality, the mean score of ravif's AVIF of 40 shop
/// photos at 640 px, and the cq-level at which libaom (cpu-used 6) scores
/// the same on the same pixels (`bench/avif_front.py`; README, "libaom:
/// the `aom` feature"). The ends are the scales' ends.
const SSIM_CQ_KNOTS: [(f32, f32); 8] = [
    (1., 63.),
    (50., 37.2),
    (60., 34.0),
    (70., 30.7),
    (80., 27.2),
    (85., 20.8),
    (90., 14.5),
    (100., 0.),
];

/// (quality, cq-level) at equal SSIMULACRA2, tuned for image quality
/// (libaom 3.12.1, cpu-used 6): as [`SSIM_CQ_KNOTS`], to the scores of
/// thumbgen's own rav1e encode at speed 10 (55.1 at quality 50, 62.0 at
/// 60, 68.3 at 70, 73.4 at 80, 79.6 at 85, 85.0 at 90).
const IQ_CQ_KNOTS: [(f32, f32); 8] = [
    (1., 63.),
    (50., 42.8),
    (60., 39.5),
    (70., 35.9),
    (80., 32.2),
    (85., 26.0),
    (90., 16.4),
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
        let tuning = &*TUNING;
        ctx.control(
            AOME_SET_CQ_LEVEL,
            cq_level(quality, tuning.knots) as i32,
            "cq-level",
        )?;
        // With SSIM's tuning, not quantisation matrices with perceptual and
        // chroma delta-q: 0.4% fewer bytes at equal score for 15% more
        // time (README). Image quality's tuning sets its own.
        ctx.control(AOME_SET_TUNING, tuning.tune as i32, "tune")?;
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
    fn cq_level_falls_as_quality_rises_with_either_tuning() {
        for knots in [&SSIM_CQ_KNOTS[..], &IQ_CQ_KNOTS[..]] {
            assert_eq!(cq_level(100, knots), 0);
            assert_eq!(cq_level(1, knots), 63);
            for q in 1..100 {
                assert!(cq_level(q + 1, knots) <= cq_level(q, knots), "{q}");
            }
        }
    }

    #[test]
    fn image_quality_tuning_from_libaom_3_12() {
        assert_eq!(Tuning::of((3, 11, 0)).name, "ssim");
        assert_eq!(Tuning::of((3, 11, 9)).tune, AOM_TUNE_SSIM);
        assert_eq!(Tuning::of((3, 12, 0)).name, "iq");
        assert_eq!(Tuning::of((3, 14, 1)).tune, AOM_TUNE_IQ);
        assert_eq!(Tuning::of((4, 0, 0)).tune, AOM_TUNE_IQ);
    }

    #[test]
    fn the_identity_names_the_linked_library_and_its_tuning() {
        let (major, minor, _) = linked_version();
        assert!(
            SETTINGS.starts_with(&format!("libaom {major}.{minor}.")),
            "{}",
            *SETTINGS
        );
        assert!(
            SETTINGS.contains(&format!("tune {},", TUNING.name)),
            "{}",
            *SETTINGS
        );
    }
}
