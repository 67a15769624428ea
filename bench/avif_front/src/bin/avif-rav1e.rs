//! `avif-rav1e IN.png OUT.avif QUALITY SPEED [knob=value ...]`: rav1e on
//! one thread, starting from rav1e's preset for SPEED with ravif's fixed
//! changes for still images; each knob then sets one speed setting.
//!
//! Knobs: depth=8|10, subsampling=420|444, tune=psnr|psychovisual,
//! partition=MIN-MAX (block sizes), and on/off (1/0) for cdef, lrf,
//! tx_domain_rate, tx_domain_distortion, reduced_tx_set, rdo_tx_decision,
//! fast_deblock, fine_directional_intra, encode_bottomup.
//! `ravif=1` sets every knob as ravif 0.13 does for SPEED and QUALITY
//! (thumbgen's encode before it had its own); knobs after it change that.

use avif_front::{args, rav1e_quantizer, read_png, write_avif, Args, Planes};
use rav1e::prelude::*;

fn block(size: &str) -> BlockSize {
    match size {
        "4" => BlockSize::BLOCK_4X4,
        "8" => BlockSize::BLOCK_8X8,
        "16" => BlockSize::BLOCK_16X16,
        "32" => BlockSize::BLOCK_32X32,
        "64" => BlockSize::BLOCK_64X64,
        _ => panic!("partition sizes are 4, 8, 16, 32 or 64, not {size}"),
    }
}

/// ravif 0.13's `SpeedTweaks::from_my_preset` as a list of knobs, its
/// comparisons copied as they are (a lower quantizer is a higher quality,
/// so its `low_quality` holds above quality 55 and `high_quality` below 80).
fn ravif_knobs(speed: u8, quantizer: usize) -> Vec<(String, String)> {
    let low = quantizer < rav1e_quantizer(55.);
    let high = quantizer > rav1e_quantizer(80.);
    let on = |b: bool| if b { "1" } else { "0" }.to_string();
    let partition = match speed {
        0 => {
            if high {
                "4-16"
            } else {
                "4-64"
            }
        }
        1 if low => {
            if high {
                "4-16"
            } else {
                "4-64"
            }
        }
        2 if low => {
            if high {
                "4-16"
            } else {
                "4-32"
            }
        }
        1..=4 => "4-16",
        5..=8 => "8-16",
        _ => "16-16",
    };
    [
        ("partition", partition.to_string()),
        ("encode_bottomup", on(speed <= 2)),
        ("rdo_tx_decision", on(speed <= 4 && !high)),
        ("reduced_tx_set", on(speed == 4 || speed >= 9)),
        ("fine_directional_intra", on(speed <= 6)),
        ("fast_deblock", on(speed >= 7 && !high)),
        ("lrf", on(low && speed <= 8)),
        ("cdef", on(low && speed <= 9)),
        ("tx_domain_rate", on(speed >= 10)),
        ("depth", "10".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

fn main() {
    let Args {
        input,
        output,
        quality,
        speed,
        knobs: given,
    } = args("avif-rav1e");
    let quantizer = rav1e_quantizer(quality);
    let mut knobs = Vec::new();
    for (k, v) in given {
        if k == "ravif" && v == "1" {
            knobs.extend(ravif_knobs(speed, quantizer));
        } else {
            knobs.push((k, v));
        }
    }
    let mut s = SpeedSettings::from_preset(speed);
    // ravif's fixed changes: one frame, no motion search to speak of.
    s.multiref = false;
    s.rdo_lookahead_frames = 1;
    s.scene_detection_mode = SceneDetectionSpeed::None;
    s.motion.include_near_mvs = false;
    let (mut depth, mut half, mut tune) = (8u8, false, Tune::Psychovisual);
    for (k, v) in &knobs {
        let on = v == "1";
        match k.as_str() {
            "depth" => depth = v.parse().expect("depth is 8 or 10"),
            "subsampling" => half = v == "420",
            "tune" => {
                tune = if v == "psnr" {
                    Tune::Psnr
                } else {
                    Tune::Psychovisual
                }
            }
            "partition" => {
                let (min, max) = v.split_once('-').expect("partition=MIN-MAX");
                s.partition.partition_range = PartitionRange::new(block(min), block(max));
            }
            "cdef" => s.cdef = on,
            "lrf" => s.lrf = on,
            "tx_domain_rate" => s.transform.tx_domain_rate = on,
            "tx_domain_distortion" => s.transform.tx_domain_distortion = on,
            "reduced_tx_set" => s.transform.reduced_tx_set = on,
            "rdo_tx_decision" => s.transform.rdo_tx_decision = on,
            "fast_deblock" => s.fast_deblock = on,
            "fine_directional_intra" => s.prediction.fine_directional_intra = on,
            "encode_bottomup" => s.partition.encode_bottomup = on,
            _ => panic!("unknown knob {k}"),
        }
    }
    let planes = read_png(&input, depth);
    let config = Config::new()
        .with_encoder_config(EncoderConfig {
            width: planes.width,
            height: planes.height,
            bit_depth: usize::from(depth),
            chroma_sampling: if half {
                ChromaSampling::Cs420
            } else {
                ChromaSampling::Cs444
            },
            pixel_range: PixelRange::Full,
            color_description: Some(ColorDescription {
                transfer_characteristics: TransferCharacteristics::SRGB,
                color_primaries: ColorPrimaries::BT709,
                matrix_coefficients: MatrixCoefficients::BT601,
            }),
            still_picture: true,
            min_key_frame_interval: 0,
            max_key_frame_interval: 0,
            quantizer,
            min_quantizer: quantizer as u8,
            tune,
            tiles: 1,
            speed_settings: s,
            ..Default::default()
        })
        .with_threads(1);
    let av1 = if depth == 8 {
        encode::<u8>(&config, &planes, half)
    } else {
        encode::<u16>(&config, &planes, half)
    };
    write_avif(&output, &av1, &planes);
}

fn encode<P: Pixel>(config: &Config, planes: &Planes, half: bool) -> Vec<u8> {
    let mut ctx: Context<P> = config.new_context().expect("a valid rav1e config");
    let mut frame = ctx.new_frame();
    for (p, plane) in frame.planes.iter_mut().enumerate() {
        let sub = half && p > 0;
        let (w, h) = if sub {
            (planes.width.div_ceil(2), planes.height.div_ceil(2))
        } else {
            (planes.width, planes.height)
        };
        let mut slice = plane.mut_slice(Default::default());
        for (row, line) in slice.rows_iter_mut().take(h).enumerate() {
            for (col, px) in line[..w].iter_mut().enumerate() {
                *px = P::cast_from(planes.sample(p, row, col, sub));
            }
        }
    }
    ctx.send_frame(frame).expect("rav1e takes the frame");
    ctx.flush();
    let mut av1 = Vec::new();
    loop {
        match ctx.receive_packet() {
            Ok(mut packet) => av1.append(&mut packet.data),
            Err(EncoderStatus::Encoded) => {}
            Err(EncoderStatus::LimitReached) => break,
            Err(e) => panic!("rav1e: {e:?}"),
        }
    }
    av1
}
