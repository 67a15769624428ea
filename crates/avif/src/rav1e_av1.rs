//! AV1 through rav1e (the default encoder): one key frame on one thread,
//! with speed settings of thumbgen's own for still images, measured on
//! shop photos against sharp's AVIF (README, "Where each encoder setting
//! lands").

use rav1e::prelude::*;

/// Everything below that decides the bytes, for the codec identity:
/// change it with any setting here, so that AVIF outputs rebuild.
pub(crate) const SETTINGS: &str = "8-bit BT.601 4:4:4, hidden colour flattened, speed table v1";

pub(crate) fn settings() -> &'static str {
    SETTINGS
}

/// rav1e's quantizer (0–255) for `quality` (1–100): ravif's curve, so that
/// `quality` means what it meant when ravif wrote thumbgen's AVIF.
fn quantizer(quality: u8) -> u8 {
    let q = f32::from(quality.clamp(1, 100)) / 100.;
    let x = if q >= 0.82 {
        (1. - q) * 2.6
    } else if q > 0.25 {
        q.mul_add(-0.5, 1. - 0.125)
    } else {
        1. - q
    };
    (x * 255.).round() as u8
}

/// rav1e's settings for `speed` (1–10). Each step down buys fewer bytes at
/// the same score with more time (40 shop photos at 640 px, bytes at
/// sharp's SSIMULACRA2 score; encoder CPU with rav1e's assembly):
///
/// - 10: rav1e's preset 10 with 16×16 blocks only and the rate estimated
///   from the coefficients, not in the transform domain (ravif's speed 10
///   had it on: 5% more bytes to save 4% of the time): 1.17×, 5.0 s.
/// - 9: and the transform decided by rate-distortion: 1.08×, 13.5 s.
/// - 8: and partitions from 8×8 to 32×32: 1.04×, 25 s.
/// - 7 and below: rav1e's preset for that speed, with 9's changes and
///   partitions from 8×8 (4×4 at 1–2) to 64×64 (6: 1.6% fewer bytes than
///   8 at WebP's score, in 3.4× its time).
fn speed_settings(speed: u8) -> SpeedSettings {
    let speed = speed.clamp(1, 10);
    let mut s = SpeedSettings::from_preset(speed);
    // One still frame: nothing to gain from references, lookahead, scene
    // cuts or motion vectors.
    s.multiref = false;
    s.rdo_lookahead_frames = 1;
    s.scene_detection_mode = SceneDetectionSpeed::None;
    s.motion.include_near_mvs = false;
    s.motion.use_satd_subpel = false;
    s.transform.tx_domain_rate = false;
    s.transform.rdo_tx_decision = speed <= 9;
    s.transform.reduced_tx_set = speed >= 8;
    let (min, max) = partition_sizes(speed);
    s.partition.partition_range = PartitionRange::new(square(min), square(max));
    // At 8–10, as measured (ravif's choices at speeds 9 and 10): no fine
    // directional intra, CDEF or loop restoration (CDEF took 0.3% off the
    // bytes for 3% more time), and the full deblocking search.
    if speed >= 8 {
        s.prediction.fine_directional_intra = false;
        s.fast_deblock = false;
        s.cdef = false;
        s.lrf = false;
    }
    s
}

/// The smallest and largest square blocks searched at `speed`, in pixels.
fn partition_sizes(speed: u8) -> (u8, u8) {
    match speed {
        9.. => (16, 16),
        8 => (8, 32),
        3..=7 => (8, 64),
        _ => (4, 64),
    }
}

fn square(size: u8) -> BlockSize {
    match size {
        4 => BlockSize::BLOCK_4X4,
        8 => BlockSize::BLOCK_8X8,
        16 => BlockSize::BLOCK_16X16,
        32 => BlockSize::BLOCK_32X32,
        _ => BlockSize::BLOCK_64X64,
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
    let quantizer = quantizer(quality);
    let (w, h) = (width as usize, height as usize);
    let config = Config::new()
        .with_encoder_config(EncoderConfig {
            width: w,
            height: h,
            bit_depth: 8,
            chroma_sampling: if monochrome {
                ChromaSampling::Cs400
            } else {
                ChromaSampling::Cs444
            },
            pixel_range: PixelRange::Full,
            color_description: (!monochrome).then_some(ColorDescription {
                transfer_characteristics: TransferCharacteristics::SRGB,
                color_primaries: ColorPrimaries::BT709,
                matrix_coefficients: MatrixCoefficients::BT601,
            }),
            still_picture: true,
            min_key_frame_interval: 0,
            max_key_frame_interval: 0,
            quantizer: usize::from(quantizer),
            min_quantizer: quantizer,
            tune: Tune::Psychovisual,
            tiles: 1,
            speed_settings: speed_settings(speed),
            ..Default::default()
        })
        // Outputs are already encoded in parallel, one per core.
        .with_threads(1);
    let fail = |e: &dyn std::fmt::Display| format!("rav1e: {e}");
    let mut ctx: Context<u8> = config.new_context().map_err(|e| fail(&e))?;
    let mut frame = ctx.new_frame();
    for (plane, pixels) in frame.planes.iter_mut().zip(planes) {
        let mut slice = plane.mut_slice(Default::default());
        for (line, row) in slice.rows_iter_mut().zip(pixels.chunks_exact(w)) {
            line[..w].copy_from_slice(row);
        }
    }
    ctx.send_frame(frame).map_err(|e| fail(&e))?;
    ctx.flush();
    let mut av1 = Vec::new();
    loop {
        match ctx.receive_packet() {
            Ok(mut packet) => av1.append(&mut packet.data),
            Err(EncoderStatus::Encoded) => {}
            Err(EncoderStatus::LimitReached) => break,
            Err(e) => return Err(fail(&e)),
        }
    }
    if av1.is_empty() {
        return Err("rav1e wrote no frame".into());
    }
    Ok(av1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantizer_is_ravifs_curve() {
        // ravif 0.13's quality_to_quantizer at these qualities.
        assert_eq!(quantizer(100), 0);
        assert_eq!(quantizer(80), 121);
        assert_eq!(quantizer(50), 159);
        assert_eq!(quantizer(1), 252);
        for q in 1..100 {
            assert!(quantizer(q + 1) <= quantizer(q), "{q}");
        }
    }

    /// Slower speeds search more: the block sizes widen and the transform
    /// is decided by rate-distortion below 10.
    #[test]
    fn slower_speeds_search_more() {
        assert_eq!(partition_sizes(10), (16, 16));
        assert!(!speed_settings(10).transform.rdo_tx_decision);
        assert!(!speed_settings(10).transform.tx_domain_rate);
        for speed in 1..10 {
            let s = speed_settings(speed);
            assert!(s.transform.rdo_tx_decision, "{speed}");
            assert!(!s.transform.tx_domain_rate, "{speed}");
            let ((min, max), (next_min, next_max)) =
                (partition_sizes(speed), partition_sizes(speed + 1));
            assert!(min <= next_min && max >= next_max, "{speed}");
        }
    }
}
