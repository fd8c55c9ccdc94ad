//! The dashboard page, its charts (SVG drawn here, each with its numbers as a table for
//! screen readers) and the running campaigns' progress, which the page's script refreshes.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::{Desk, page};
use crate::i18n;
use crate::ops::access::Permission;
use crate::ops::dashboard::{self, Day};
use crate::render::escape_html;
use crate::web::state::AppState;

#[derive(Debug, Deserialize)]
pub(crate) struct Period {
    days: Option<u16>,
}

pub(crate) async fn show(
    State(state): State<AppState>,
    desk: Desk,
    Query(period): Query<Period>,
) -> Response {
    let days = if period.days == Some(90) { 90 } else { 30 };
    let overview = match state
        .dashboard
        .overview(&state.db, &desk.staff.caller(), days)
        .await
    {
        Ok(overview) => overview,
        Err(err) => return super::login::internal(&err),
    };
    let may_see_campaigns = desk
        .staff
        .caller()
        .require(Permission::CampaignsGet)
        .is_ok();
    let running = if may_see_campaigns {
        match dashboard::running(&state.db, &desk.staff.caller()).await {
            Ok(running) => running,
            Err(err) => return super::login::internal(&err),
        }
    } else {
        Vec::new()
    };
    let lang = desk.lang;
    let series: [Series; 4] = [
        ("desk.dash.signups", "signups", |d| d.signups),
        ("desk.dash.confirmations", "confirmations", |d| {
            d.confirmations
        }),
        ("desk.dash.unsubscriptions", "unsubscriptions", |d| {
            d.unsubscriptions
        }),
        ("desk.dash.sent", "sent", |d| d.sent),
    ];
    let charts: Vec<_> = series
        .iter()
        .map(|(key, id, count)| {
            let values: Vec<(String, i64)> =
                overview.days.iter().map(|d| (d.day.clone(), count(d))).collect();
            let title = i18n::text(lang, key);
            json!({
                "id": id,
                "title": title,
                "total": values.iter().map(|(_, n)| n).sum::<i64>(),
                "svg": bar_chart(title, &values),
                "rows": values.iter().rev().filter(|(_, n)| *n > 0).map(|(d, n)| json!({"day": d, "n": n})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let statuses: Vec<_> = overview
        .subscribers
        .iter()
        .map(|s| json!({"n": s.n, "label": i18n::text(lang, &format!("desk.status.{}", s.status))}))
        .collect();
    page(
        &state,
        Some(&desk),
        lang,
        StatusCode::OK,
        "admin/dashboard.html",
        "desk.dash.title",
        json!({
            "counted_at": overview.counted_at.as_datetime().format(time::macros::format_description!("[hour]:[minute]:[second] UTC")).unwrap_or_default(),
            "overview": overview,
            "statuses": statuses,
            "charts": charts,
            "days": days,
            "running": running,
            "may_see_campaigns": may_see_campaigns,
        }),
    )
}

/// The running campaigns' section alone, which the page's script swaps in every few seconds.
pub(crate) async fn running(State(state): State<AppState>, desk: Desk) -> Response {
    match dashboard::running(&state.db, &desk.staff.caller()).await {
        Ok(running) => page(
            &state,
            Some(&desk),
            desk.lang,
            StatusCode::OK,
            "admin/running.html",
            "desk.dash.running",
            json!({ "running": running }),
        ),
        Err(err) => super::login::internal(&err),
    }
    .into_response()
}

/// A chart: its title's key, its id, and the day's number it draws.
type Series = (&'static str, &'static str, fn(&Day) -> i64);

/// A bar per day, scaled to the largest, with the largest value and the first and last day
/// labelled. Sized by its `viewBox`, so it fills whatever width the page gives it.
fn bar_chart(title: &str, values: &[(String, i64)]) -> String {
    const WIDTH: f64 = 600.0;
    const HEIGHT: f64 = 140.0;
    const TOP: f64 = 16.0;
    const BOTTOM: f64 = 18.0;
    let max = values.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let slot = WIDTH / values.len().max(1) as f64;
    let bar = (slot * 0.7).max(1.0);
    let plot = HEIGHT - TOP - BOTTOM;
    let mut svg = format!(
        r#"<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart"><title>{}</title>"#,
        escape_html(title)
    );
    svg.push_str(&format!(
        r#"<line x1="0" y1="{y}" x2="{WIDTH}" y2="{y}" class="axis"/>"#,
        y = HEIGHT - BOTTOM
    ));
    for (i, (day, n)) in values.iter().enumerate() {
        let h = (*n as f64 / max as f64) * plot;
        let x = i as f64 * slot + (slot - bar) / 2.0;
        let y = HEIGHT - BOTTOM - h;
        svg.push_str(&format!(
            r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}"><title>{}: {n}</title></rect>"#,
            escape_html(day)
        ));
    }
    svg.push_str(&format!(r#"<text x="0" y="15" class="label">{max}</text>"#));
    if let (Some((first, _)), Some((last, _))) = (values.first(), values.last()) {
        svg.push_str(&format!(
            r#"<text x="0" y="{y}" class="label">{}</text><text x="{WIDTH}" y="{y}" class="label end">{}</text>"#,
            escape_html(first),
            escape_html(last),
            // Above the edge, so the letters' descenders are not cut.
            y = HEIGHT - 4.0
        ));
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::bar_chart;

    #[test]
    fn a_chart_has_its_title_a_bar_per_day_and_escapes_its_text() {
        let values = vec![("2026-11-29".to_owned(), 3), ("2026-11-30".to_owned(), 0)];
        let svg = bar_chart("Kayıtlar <b>", &values);
        assert!(svg.contains("<title>Kayıtlar &lt;b&gt;</title>"), "{svg}");
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("2026-11-29: 3"));
    }
}
