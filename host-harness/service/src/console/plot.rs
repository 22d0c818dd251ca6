//! A tenant's crawl history as charts: documents indexed, requests, duration and 429s per
//! crawl over time, each an inline SVG drawn on the server.

use maud::{Markup, PreEscaped};

use super::chart::{Series, line_chart_svg};
use crate::serve::LastCrawl;

/// One chart per measure, oldest crawl first.
pub fn history_plots(history: &[LastCrawl]) -> Vec<Markup> {
    let series = |f: &dyn Fn(&LastCrawl) -> f64| -> Vec<(i64, f64)> {
        history.iter().map(|l| (l.finished_at, f(l))).collect()
    };
    let indexed = series(&|l| l.indexed as f64);
    let deleted = series(&|l| l.deleted as f64);
    let requests = series(&|l| l.requests as f64);
    let seconds = series(&|l| l.seconds);
    let throttled = series(&|l| l.throttled as f64);
    let chart = |title: &str, unit: &str, s: &[Series<'_>]| {
        PreEscaped(line_chart_svg(title, unit, s, 540, 260))
    };
    vec![
        chart(
            "Documents per crawl",
            "documents",
            &[
                Series {
                    label: "indexed",
                    points: &indexed,
                },
                Series {
                    label: "deleted",
                    points: &deleted,
                },
            ],
        ),
        chart(
            "Requests per crawl",
            "requests",
            &[Series {
                label: "requests",
                points: &requests,
            }],
        ),
        chart(
            "Crawl duration",
            "seconds",
            &[Series {
                label: "duration",
                points: &seconds,
            }],
        ),
        chart(
            "429 answers per crawl",
            "429s",
            &[Series {
                label: "429s",
                points: &throttled,
            }],
        ),
    ]
}
