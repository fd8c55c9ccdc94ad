use super::*;

fn recipient<'a>(attribs: &'a serde_json::Value, data: &'a serde_json::Value) -> Recipient<'a> {
    Recipient {
        subscriber: SubscriberVars {
            uuid: "0195f3a2-0000-7000-8000-000000000001".into(),
            email: "ayse@example.com.tr",
            name: "Ayşe <Yılmaz>",
            attribs,
        },
        campaign: CampaignVars {
            uuid: "0195f3a2-0000-7000-8000-0000000000aa".into(),
            name: "Daily",
            subject: "News",
        },
        data,
        links: Links {
            unsubscribe: "https://news.example/u/TOKEN",
            manage: "https://news.example/m/TOKEN",
        },
    }
}

fn source<'a>(body: &'a str, format: BodyFormat, layout: Option<&'a str>) -> Source<'a> {
    Source {
        subject: "Hello {{ subscriber.name }}",
        body,
        format,
        layout,
        altbody: None,
    }
}

#[test]
fn markdown_in_the_default_template_gets_inlined_css_and_personal_links() {
    let attribs = serde_json::json!({"city": "İzmir"});
    let data = serde_json::Value::Null;
    let compiled = Compiled::new(&source(
        "# Today\n\nNews from **{{ subscriber.attribs.city }}**, [read](https://news.example/a?x=1&y=2).",
        BodyFormat::Markdown,
        Some(DEFAULT_CAMPAIGN_TEMPLATE),
    ))
    .unwrap();
    assert!(!compiled.inline_per_message, "{compiled:?}");
    assert!(!compiled.text_per_message, "{compiled:?}");
    let out = compiled.render(&recipient(&attribs, &data)).unwrap();
    assert_eq!(out.subject, "Hello Ayşe <Yılmaz>");
    assert!(out.html.contains("<h1"), "{}", out.html);
    assert!(out.html.contains("<strong>İzmir</strong>"), "{}", out.html);
    assert!(
        out.html.contains("style=\""),
        "CSS is inlined: {}",
        out.html
    );
    assert!(out.html.contains("href=\"https://news.example/u/TOKEN\""));
    assert!(out.html.contains("ayse@example.com.tr"));
    assert!(out.text.contains("İzmir"), "{}", out.text);
    assert!(
        out.text.contains("https://news.example/u/TOKEN"),
        "{}",
        out.text
    );
}

#[test]
fn subscriber_values_are_escaped_in_html_and_not_in_text() {
    let attribs = serde_json::json!({});
    let data = serde_json::Value::Null;
    let compiled = Compiled::new(&source(
        "<p>Dear {{ subscriber.name }}</p>",
        BodyFormat::Html,
        None,
    ))
    .unwrap();
    let out = compiled.render(&recipient(&attribs, &data)).unwrap();
    assert!(
        out.html.contains("Dear Ayşe &lt;Yılmaz&gt;"),
        "{}",
        out.html
    );
    assert!(out.text.contains("Dear Ayşe <Yılmaz>"), "{}", out.text);
}

#[test]
fn listmonk_template_tags_are_understood() {
    let attribs = serde_json::json!({});
    let data = serde_json::Value::Null;
    let layout = "<html><body>{{ template \"content\" . }}<a href=\"{{ UnsubscribeURL }}\">x</a></body></html>";
    let compiled = Compiled::new(&source(
        "<p>Hi {{ .Subscriber.Name }}</p>",
        BodyFormat::Html,
        Some(layout),
    ))
    .unwrap();
    let out = compiled.render(&recipient(&attribs, &data)).unwrap();
    assert!(out.html.contains("Hi Ayşe"));
    assert!(out.html.contains("https://news.example/u/TOKEN"));
}

#[test]
fn a_template_without_a_content_tag_is_refused() {
    let err = Compiled::new(&source("x", BodyFormat::Html, Some("<p>no body</p>"))).unwrap_err();
    assert!(err.0.contains("{{ content }}"), "{err}");
}

#[test]
fn syntax_errors_name_the_line() {
    let err = Compiled::new(&source("<p>\n{% if %}</p>", BodyFormat::Html, None)).unwrap_err();
    assert!(err.0.contains("line 2"), "{err}");
}

#[test]
fn undefined_values_are_errors_not_blanks() {
    let attribs = serde_json::json!({});
    let data = serde_json::Value::Null;
    let compiled =
        Compiled::new(&source("{{ subscriber.nickname }}", BodyFormat::Html, None)).unwrap();
    let err = compiled.render(&recipient(&attribs, &data)).unwrap_err();
    assert!(err.0.contains("undefined"), "{err}");
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    let attribs = serde_json::json!({});
    let data = serde_json::Value::Null;
    let compiled = Compiled::new(&source(
        "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
        BodyFormat::Html,
        None,
    ))
    .unwrap();
    let err = compiled.render(&recipient(&attribs, &data)).unwrap_err();
    assert!(err.0.contains("fuel"), "{err}");
}

#[test]
fn templates_cannot_read_files() {
    let err = Compiled::new(&source(
        "{% include \"/etc/passwd\" %}",
        BodyFormat::Html,
        None,
    ))
    .and_then(|c| {
        let attribs = serde_json::json!({});
        let data = serde_json::Value::Null;
        c.render(&recipient(&attribs, &data)).map(|_| ())
    })
    .unwrap_err();
    assert!(
        err.0.contains("not found") || err.0.contains("template"),
        "{err}"
    );
}

#[test]
fn values_inside_style_are_inlined_per_recipient() {
    let attribs = serde_json::json!({"color": "red"});
    let data = serde_json::Value::Null;
    let compiled = Compiled::new(&source(
        "<html><head><style>p { color: {{ subscriber.attribs.color }}; }</style></head><body><p>x</p></body></html>",
        BodyFormat::Html,
        None,
    ))
    .unwrap();
    let out = compiled.render(&recipient(&attribs, &data)).unwrap();
    assert!(out.html.contains("<p style=\"color: red"), "{}", out.html);
}

#[test]
fn statements_inside_style_fall_back_to_inlining_each_message() {
    let attribs = serde_json::json!({"vip": true});
    let data = serde_json::Value::Null;
    let compiled = Compiled::new(&source(
        "<html><head><style>{% if subscriber.attribs.vip %}p { color: gold }{% endif %}</style></head><body><p>x</p></body></html>",
        BodyFormat::Html,
        None,
    ))
    .unwrap();
    assert!(compiled.inline_per_message, "{compiled:?}");
    let out = compiled.render(&recipient(&attribs, &data)).unwrap();
    assert!(out.html.contains("<p style=\"color: gold"), "{}", out.html);
}

#[test]
fn dates_format_with_a_description() {
    assert_eq!(
        format_date("2026-11-28T10:00:00Z", "[day].[month].[year]").unwrap(),
        "28.11.2026"
    );
    assert!(format_date("yesterday", "[year]").is_err());
}

#[test]
fn a_plain_text_campaign_keeps_its_text() {
    let attribs = serde_json::json!({});
    let data = serde_json::Value::Null;
    let compiled = Compiled::new(&source("Line one\nA & B", BodyFormat::Plain, None)).unwrap();
    let out = compiled.render(&recipient(&attribs, &data)).unwrap();
    assert_eq!(out.text, "Line one\nA & B");
    assert!(out.html.contains("A &amp; B"));
}

#[test]
fn nesting_a_template_loop_builds_is_refused_where_a_tool_would_walk_it() {
    // A loop inside a tag that CSS inlining cannot keep intact sends every message through
    // the tools: the rendered nesting must be measured there, on a worker's stack.
    let body = "<style>{% for i in range(1) %}p{color:red}{% endfor %}</style>\
                {% for i in range(3000) %}<div>{% endfor %}x{% for i in range(3000) %}</div>{% endfor %}";
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let attribs = serde_json::json!({});
            let data = serde_json::Value::Null;
            let compiled = Compiled::new(&source(body, BodyFormat::Html, None)).unwrap();
            let outcome = compiled.render(&recipient(&attribs, &data));
            if compiled.inline_per_message || compiled.text_per_message {
                let err = outcome.unwrap_err();
                assert!(err.0.contains("levels deep"), "{err}");
            } else {
                outcome.unwrap();
            }
        })
        .unwrap()
        .join()
        .expect("no overflow");
}

#[test]
fn pathological_bodies_are_refused_or_compiled_never_a_crash() {
    let bodies: Vec<(String, BodyFormat)> = vec![
        (format!("{}x", "- ".repeat(3_000)), BodyFormat::Markdown),
        (format!("{}x", "1. ".repeat(3_000)), BodyFormat::Markdown),
        (
            format!("{}x{}", "[".repeat(10_000), "](u)".repeat(10_000)),
            BodyFormat::Markdown,
        ),
        (
            format!("{}x{}", "*".repeat(10_000), "*".repeat(10_000)),
            BodyFormat::Markdown,
        ),
        (
            format!("<style>p{{color:{}}}</style>x", "(".repeat(100_000)),
            BodyFormat::Html,
        ),
        (
            format!("<style>{}</style>x", "@media screen{".repeat(10_000)),
            BodyFormat::Html,
        ),
        (
            format!("<p style=\"{}\">x</p>", "a:(".repeat(30_000)),
            BodyFormat::Html,
        ),
        ("<table><td>".repeat(5_000), BodyFormat::Html),
    ];
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let attribs = serde_json::json!({});
            let data = serde_json::Value::Null;
            for (body, format) in bodies {
                if let Ok(compiled) = Compiled::new(&source(&body, format, None)) {
                    let _ = compiled.render(&recipient(&attribs, &data));
                }
            }
        })
        .unwrap()
        .join()
        .expect("no overflow");
}
