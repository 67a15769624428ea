//! The decodes a source's outputs are resized from, one per distinct
//! [`Reduction`]: a JPEG read at half or full size, any other format whole,
//! then halved as far as each output allows. Which pixels an output gets
//! depends on the source and its own recipe alone, and outputs with the
//! same reduction share them.

use super::geometry::{is_made, preview_reduction, reduction, Reduction};
use super::pixels::Source;
use super::resize::halve;
use super::sniff::{sniff, Kind};
use super::{decode, isolate, jpeg, jxl, Leniency, Limits, RenderError};
use crate::model::Shape;
use crate::variant::Variant;
use thumbgen_lanczos::Resizer;

/// A source's decodes: for each decode scale, the decode and its halves,
/// as far as an output asks for.
pub(super) struct Decodes {
    shape: Shape,
    /// Per DCT scale (eighths), the decode followed by its halvings.
    chains: Vec<(u8, Vec<Source>)>,
}

/// Decodes `source` for the outputs of `wanted` (indices into `all`) and,
/// with `wants_preview` (for placeholders or content-aware crops), the
/// preview.
pub(super) fn decode(
    source: &[u8],
    wanted: &[usize],
    all: &[Variant],
    limits: &Limits,
    wants_preview: bool,
    resizer: &mut Resizer,
) -> Result<Decodes, RenderError> {
    let needs = |shape: Shape| {
        let mut needs: Vec<Reduction> = wanted
            .iter()
            .map(|&i| &all[i])
            .filter(|v| is_made(shape, v))
            .map(|v| reduction(shape, v))
            .collect();
        if wants_preview {
            needs.push(preview_reduction(shape));
        }
        needs
    };
    let whole = match sniff(source)? {
        Kind::Jpeg => {
            let header = jpeg::read_header(source, limits)?;
            let shape = header.shape();
            let needs = needs(shape);
            let mut scales: Vec<u8> = needs.iter().map(|r| r.eighths).collect();
            // With nothing to make, the smallest decode still tells
            // whether the file is whole.
            if scales.is_empty() {
                scales.push(1);
            }
            scales.sort_unstable();
            scales.dedup();
            let chains = scales
                .into_iter()
                .map(|eighths| {
                    let decoded = jpeg::decode_at_scale(source, &header, eighths.into(), limits)?;
                    Ok((eighths, halved(decoded, eighths, &needs, resizer)?))
                })
                .collect::<Result<_, RenderError>>()?;
            return Ok(Decodes { shape, chains });
        }
        #[cfg(feature = "heic")]
        Kind::Heif => isolate::decode(isolate::Isolated::Heif, source, limits)?,
        Kind::Jxl => jxl::decode(source, limits)?,
        Kind::Avif => {
            crate::codecs::note_av1_use();
            isolate::decode(isolate::Isolated::Avif, source, limits)?
        }
        Kind::Other(format) => decode::decode_other(source, format, limits)?,
    };
    let shape = whole.shape();
    let chain = halved(whole, 8, &needs(shape), resizer)?;
    Ok(Decodes {
        shape,
        chains: vec![(8, chain)],
    })
}

/// `decoded` (at `eighths`) and its halves, as deep as any of `needs` at
/// that scale goes.
fn halved(
    decoded: Source,
    eighths: u8,
    needs: &[Reduction],
    resizer: &mut Resizer,
) -> Result<Vec<Source>, RenderError> {
    let deepest = needs
        .iter()
        .filter(|r| r.eighths == eighths)
        .map(|r| r.halvings)
        .max()
        .unwrap_or(0);
    let mut chain = vec![decoded];
    for _ in 0..deepest {
        let half = halve(chain.last().expect("the decode itself"), resizer)?;
        chain.push(half);
    }
    Ok(chain)
}

impl Decodes {
    /// The source's upright shape.
    pub(super) fn shape(&self) -> Shape {
        self.shape
    }

    fn get(&self, r: Reduction) -> &Source {
        let (_, chain) = self
            .chains
            .iter()
            .find(|(eighths, _)| *eighths == r.eighths)
            .expect("decoded at every scale asked for");
        &chain[r.halvings as usize]
    }

    /// The pixels an output of `v` is resized from.
    pub(super) fn for_variant(&self, v: &Variant) -> &Source {
        self.get(reduction(self.shape, v))
    }

    /// The small picture placeholders and content-aware crops look at.
    pub(super) fn preview(&self) -> &Source {
        self.get(preview_reduction(self.shape))
    }

    /// A flaw the decoder read past (the same in every decode).
    pub(super) fn leniency(&self) -> Option<Leniency> {
        self.chains.iter().find_map(|(_, chain)| chain[0].leniency)
    }
}
