//! What both encoders share: the PNG read, its full-range BT.601 YCbCr
//! (ravif's conversion), and the AVIF file around the AV1 data.

use std::path::{Path, PathBuf};

/// The command line both encoders take:
/// `IN.png OUT.avif QUALITY SPEED [knob=value ...]`.
pub struct Args {
    pub input: PathBuf,
    pub output: PathBuf,
    pub quality: f32,
    pub speed: u8,
    pub knobs: Vec<(String, String)>,
}

/// The arguments of the encoder `name`, or its usage and exit 2.
pub fn args(name: &str) -> Args {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: {name} IN.png OUT.avif QUALITY SPEED [knob=value ...]");
        std::process::exit(2);
    }
    Args {
        input: PathBuf::from(&args[1]),
        output: PathBuf::from(&args[2]),
        quality: args[3].parse().expect("QUALITY is a number"),
        speed: args[4].parse().expect("SPEED is 0-10"),
        knobs: args[5..]
            .iter()
            .map(|a| {
                let (k, v) = a.split_once('=').expect("knobs are name=value");
                (k.to_string(), v.to_string())
            })
            .collect(),
    }
}

/// Full-range BT.601 planes of a PNG, as f32 so that 8- and 10-bit
/// samples round from the same values.
pub struct Planes {
    pub width: usize,
    pub height: usize,
    /// Y, Cb, Cr, each `width * height`, scaled to `depth` bits.
    pub ycbcr: [Vec<f32>; 3],
    pub depth: u8,
}

pub fn read_png(path: &Path, depth: u8) -> Planes {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    let (width, height) = (img.width() as usize, img.height() as usize);
    let [kr, kg, kb] = [0.2990f32, 0.5870, 0.1140];
    let max = f32::from((1u16 << depth) - 1);
    let (scale, shift) = (max / 255., (max * 0.5).round());
    let mut ycbcr = [
        vec![0f32; width * height],
        vec![0f32; width * height],
        vec![0f32; width * height],
    ];
    for (i, p) in img.pixels().enumerate() {
        let (r, g, b) = (f32::from(p[0]), f32::from(p[1]), f32::from(p[2]));
        let y = scale * (kr * r + kg * g + kb * b);
        ycbcr[0][i] = y;
        ycbcr[1][i] = (b * scale - y) * (0.5 / (1. - kb)) + shift;
        ycbcr[2][i] = (r * scale - y) * (0.5 / (1. - kr)) + shift;
    }
    Planes {
        width,
        height,
        ycbcr,
        depth,
    }
}

impl Planes {
    /// Sample `(row, col)` of plane `p`, 2×2-averaged when `half` (4:2:0).
    pub fn sample(&self, p: usize, row: usize, col: usize, half: bool) -> u16 {
        let max = f32::from((1u16 << self.depth) - 1);
        let value = if half {
            let (mut sum, mut n) = (0., 0.);
            for (y, x) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let (y, x) = (2 * row + y, 2 * col + x);
                if y < self.height && x < self.width {
                    sum += self.ycbcr[p][y * self.width + x];
                    n += 1.;
                }
            }
            sum / n
        } else {
            self.ycbcr[p][row * self.width + col]
        };
        value.round().clamp(0., max) as u16
    }
}

pub fn write_avif(path: &Path, av1: &[u8], planes: &Planes) {
    let file = avif_serialize::Aviffy::new()
        .matrix_coefficients(avif_serialize::constants::MatrixCoefficients::Bt601)
        .to_vec(
            av1,
            None,
            planes.width as u32,
            planes.height as u32,
            planes.depth,
        );
    std::fs::write(path, file).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// ravif's (and so thumbgen's) mapping of quality 1–100 to rav1e's quantizer.
pub fn rav1e_quantizer(quality: f32) -> usize {
    let q = quality / 100.;
    let x = if q >= 0.82 {
        (1. - q) * 2.6
    } else if q > 0.25 {
        q.mul_add(-0.5, 1. - 0.125)
    } else {
        1. - q
    };
    (x * 255.).round() as usize
}

/// libheif's (and so sharp's) mapping of quality to libaom's cq-level.
pub fn aom_cq_level(quality: f32) -> u32 {
    ((100 - quality.round() as u32) * 63 + 50) / 100
}
