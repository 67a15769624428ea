//! The rule for one wanted output: kept as it is, or rebuilt, and why. The
//! rows of the precedence table in the [module docs](super), as one pure
//! function of plain facts, tested as a table.

use crate::model::{OutputState, Stat};

/// What the planner knows of one output a variant wants for a source.
#[derive(Debug, Clone, Copy)]
pub(super) struct Facts {
    /// The whole source is rebuilt (new, changed content, failed last
    /// time): every output goes with it.
    pub(super) source_rebuilt: bool,
    /// The variant has a recorded output for this source, in this state.
    pub(super) recorded: Option<OutputState>,
    /// That output is at the path the variant writes now (a content-named
    /// one: with any digest).
    pub(super) in_place: bool,
    /// It was made with the variant's recipe of today.
    pub(super) same_recipe: bool,
    /// It was made by today's pipeline version.
    pub(super) same_pipeline: bool,
    /// `--force`.
    pub(super) force: bool,
}

/// Why an output is rebuilt; [`super::Sources::plan`] turns it into the
/// [`crate::reason::Reason`] with its details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Why {
    /// The source's own reason (new, changed, failed last time).
    Source,
    NewVariant,
    VariantChanged,
    PipelineChanged,
    OutputMissing,
    OutputModified,
    Forced,
}

/// What happens to one wanted output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    /// It stays; with a new stat when only its stat changed.
    Keep { restat: Option<Stat> },
    /// It is made again.
    Rebuild(Why),
}

/// The first rule that applies, in the table's order.
pub(super) fn decide(f: &Facts) -> Decision {
    let Some(state) = f.recorded else {
        return Decision::Rebuild(if f.source_rebuilt {
            Why::Source
        } else {
            Why::NewVariant
        });
    };
    let why = if f.source_rebuilt {
        Why::Source
    } else if !f.in_place || !f.same_recipe {
        Why::VariantChanged
    } else if !f.same_pipeline {
        Why::PipelineChanged
    } else {
        match state {
            OutputState::Missing => Why::OutputMissing,
            OutputState::Modified => Why::OutputModified,
            _ if f.force => Why::Forced,
            OutputState::Intact => return Decision::Keep { restat: None },
            OutputState::Restat(stat) => return Decision::Keep { restat: Some(stat) },
        }
    };
    Decision::Rebuild(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP_TO_DATE: Facts = Facts {
        source_rebuilt: false,
        recorded: Some(OutputState::Intact),
        in_place: true,
        same_recipe: true,
        same_pipeline: true,
        force: false,
    };

    /// Each row changes one fact of an up-to-date output (or a few, to
    /// show which rule wins) and says what follows.
    #[test]
    fn the_precedence_table() {
        let stat = Stat {
            len: 9,
            ..Stat::default()
        };
        let rebuild = Decision::Rebuild;
        let rows: [(&str, Facts, Decision); 12] = [
            ("up to date", UP_TO_DATE, Decision::Keep { restat: None }),
            (
                "only the stat changed",
                Facts {
                    recorded: Some(OutputState::Restat(stat)),
                    ..UP_TO_DATE
                },
                Decision::Keep { restat: Some(stat) },
            ),
            (
                "new source or content",
                Facts {
                    source_rebuilt: true,
                    ..UP_TO_DATE
                },
                rebuild(Why::Source),
            ),
            (
                "new source, new variant",
                Facts {
                    source_rebuilt: true,
                    recorded: None,
                    ..UP_TO_DATE
                },
                rebuild(Why::Source),
            ),
            (
                "no output recorded",
                Facts {
                    recorded: None,
                    ..UP_TO_DATE
                },
                rebuild(Why::NewVariant),
            ),
            (
                "recipe changed",
                Facts {
                    same_recipe: false,
                    same_pipeline: false,
                    ..UP_TO_DATE
                },
                rebuild(Why::VariantChanged),
            ),
            (
                "path changed",
                Facts {
                    in_place: false,
                    ..UP_TO_DATE
                },
                rebuild(Why::VariantChanged),
            ),
            (
                "pipeline changed",
                Facts {
                    same_pipeline: false,
                    ..UP_TO_DATE
                },
                rebuild(Why::PipelineChanged),
            ),
            (
                "output deleted",
                Facts {
                    recorded: Some(OutputState::Missing),
                    force: true,
                    ..UP_TO_DATE
                },
                rebuild(Why::OutputMissing),
            ),
            (
                "output edited",
                Facts {
                    recorded: Some(OutputState::Modified),
                    ..UP_TO_DATE
                },
                rebuild(Why::OutputModified),
            ),
            (
                "--force",
                Facts {
                    force: true,
                    ..UP_TO_DATE
                },
                rebuild(Why::Forced),
            ),
            (
                "--force, stat changed",
                Facts {
                    recorded: Some(OutputState::Restat(stat)),
                    force: true,
                    ..UP_TO_DATE
                },
                rebuild(Why::Forced),
            ),
        ];
        for (row, facts, expected) in rows {
            assert_eq!(decide(&facts), expected, "{row}");
        }
    }
}
