//! Pages in the reader's language: Fluent messages (`locales/<lang>/*.ftl`, compiled into the
//! binary), the language a request asks for, and the request's page context.
//!
//! The language of a page comes from, in order: the `ui_locales` of the request's query (an
//! authorization request's, or any page's, or that of the authorization request a sign-in
//! page's `return_to` continues), then the `pcl_lang` cookie that an earlier
//! `ui_locales` left (so the choice holds through the sign-in steps that follow), then
//! `Accept-Language`, then English. Only supported languages are ever picked.
//!
//! Templates name messages by id (`{{ "login-title"|t }}`). Sentences written in Rust (error
//! pages, notices, form errors) are English literals keyed by their English text, as gettext
//! does: [`text`] finds the English message with that exact text and answers the same id in
//! the page's language (an unknown sentence stays English). Every id exists in every language
//! (a test checks it), and every id a template uses exists (another test).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};

use crate::config::Settings;
use crate::state::AppState;

/// A language the pages are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    De,
}

impl Lang {
    /// Every supported language, the default first.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::De];

    /// The BCP 47 tag (`lang` of the page, discovery's `ui_locales_supported`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// The writing direction (`dir` of the page).
    pub fn dir(self) -> &'static str {
        "ltr"
    }

    /// The supported language a BCP 47 tag names (by its primary subtag: `de-AT` is German).
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?;
        Lang::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(primary))
    }

    /// The first supported language of an OpenID `ui_locales` value (space-separated tags in
    /// order of preference).
    pub fn from_ui_locales(value: &str) -> Option<Lang> {
        value.split(' ').find_map(Lang::from_tag)
    }

    /// The supported language an `Accept-Language` header prefers most (highest `q`, then
    /// first listed); `q=0` refuses a language.
    pub fn from_accept_language(value: &str) -> Option<Lang> {
        let mut best: Option<(Lang, u16)> = None;
        for item in value.split(',').take(32) {
            let mut parts = item.split(';');
            let Some(lang) = parts.next().and_then(Lang::from_tag) else {
                continue;
            };
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .next()
                .map_or(1000, parse_q);
            if q > 0 && best.is_none_or(|(_, b)| q > b) {
                best = Some((lang, q));
            }
        }
        best.map(|(l, _)| l)
    }
}

/// A `q` value in thousandths; anything unreadable counts as 0 (refused).
fn parse_q(raw: &str) -> u16 {
    raw.trim()
        .parse::<f32>()
        .ok()
        .filter(|q| (0.0..=1.0).contains(q))
        // In 0..=1000 by the filter above.
        .map_or(0, |q| (q * 1000.0).round() as u16)
}

/// The message files, per language. Each language has the same files with the same ids.
const FILES: &[(Lang, &str, &str)] = &[
    (
        Lang::En,
        "en/pages.ftl",
        include_str!("../../../locales/en/pages.ftl"),
    ),
    (
        Lang::En,
        "en/messages.ftl",
        include_str!("../../../locales/en/messages.ftl"),
    ),
    (
        Lang::De,
        "de/pages.ftl",
        include_str!("../../../locales/de/pages.ftl"),
    ),
    (
        Lang::De,
        "de/messages.ftl",
        include_str!("../../../locales/de/messages.ftl"),
    ),
];

struct Catalog {
    bundles: HashMap<Lang, FluentBundle<FluentResource>>,
    /// English text of every message without variables → its id.
    by_english: HashMap<String, String>,
    /// Messages with one variable, by the English text around it: a sentence written in Rust
    /// with one value inside (`"{email} is your account's verified address."`) is found by
    /// its start and end, and the value goes into the message.
    by_shape: Vec<Shape>,
}

/// The English text of a message with one variable, split at the variable.
struct Shape {
    before: String,
    after: String,
    id: String,
    variable: String,
}

/// What stands in for the value while a message's English text is split at it.
const MARK: &str = "\u{1}";

/// The variables a message's value names.
fn variables(source: &str, id: &str) -> Vec<String> {
    use fluent_syntax::ast::{Entry, Expression, InlineExpression, PatternElement};
    let resource = match fluent_syntax::parser::parse(source) {
        Ok(r) => r,
        Err((r, _)) => r,
    };
    let mut out = Vec::new();
    for entry in resource.body {
        let Entry::Message(m) = entry else { continue };
        if m.id.name != id {
            continue;
        }
        for element in m.value.map(|v| v.elements).unwrap_or_default() {
            if let PatternElement::Placeable {
                expression: Expression::Inline(InlineExpression::VariableReference { id }),
            } = element
            {
                out.push(id.name.to_owned());
            }
        }
    }
    out
}

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    let mut bundles = HashMap::new();
    for lang in Lang::ALL {
        let id: unic_langid::LanguageIdentifier = lang
            .code()
            .parse()
            .expect("the language codes are valid tags");
        let mut bundle = FluentBundle::new_concurrent(vec![id]);
        // No Unicode isolation marks around values: they are invisible noise in HTML.
        bundle.set_use_isolating(false);
        for (_, name, source) in FILES.iter().filter(|(l, _, _)| *l == lang) {
            let resource = FluentResource::try_new((*source).to_owned())
                .unwrap_or_else(|(_, errors)| panic!("{name} does not parse: {errors:?}"));
            bundle
                .add_resource(resource)
                .unwrap_or_else(|errors| panic!("{name} repeats an id: {errors:?}"));
        }
        bundles.insert(lang, bundle);
    }
    let mut by_english = HashMap::new();
    let mut by_shape = Vec::new();
    let english = &bundles[&Lang::En];
    for (_, _, source) in FILES.iter().filter(|(l, _, _)| *l == Lang::En) {
        for id in message_ids(source) {
            let Some(pattern) = english.get_message(&id).and_then(|m| m.value()) else {
                continue;
            };
            let mut errors = Vec::new();
            let text = english.format_pattern(pattern, None, &mut errors);
            if errors.is_empty() {
                by_english.insert(text.into_owned(), id);
                continue;
            }
            if let [variable] = variables(source, &id).as_slice() {
                let mut args = FluentArgs::new();
                args.set(variable.as_str(), MARK);
                let mut errors = Vec::new();
                let text = english.format_pattern(pattern, Some(&args), &mut errors);
                if let (true, Some((before, after))) = (errors.is_empty(), text.split_once(MARK)) {
                    by_shape.push(Shape {
                        before: before.to_owned(),
                        after: after.to_owned(),
                        id,
                        variable: variable.clone(),
                    });
                }
            }
        }
    }
    // The most specific shape first.
    by_shape.sort_by_key(|s| std::cmp::Reverse(s.before.len() + s.after.len()));
    Catalog {
        bundles,
        by_english,
        by_shape,
    }
});

/// The ids of the messages of one `.ftl` source.
pub(crate) fn message_ids(source: &str) -> Vec<String> {
    let resource = match fluent_syntax::parser::parse(source) {
        Ok(r) => r,
        Err((r, _)) => r,
    };
    resource
        .body
        .into_iter()
        .filter_map(|entry| match entry {
            fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
            _ => None,
        })
        .collect()
}

/// The message `id` in `lang` with `args`; English if `lang` lacks it (a test makes sure none
/// does), and the id itself if no language has it.
pub fn message(lang: Lang, id: &str, args: Option<&FluentArgs<'_>>) -> String {
    let catalog = &*CATALOG;
    for l in [lang, Lang::En] {
        let bundle = &catalog.bundles[&l];
        if let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) {
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, args, &mut errors);
            if !errors.is_empty() {
                tracing::warn!(id, ?errors, "a message was formatted with errors");
            }
            return text.into_owned();
        }
    }
    tracing::warn!(id, "no such message");
    id.to_owned()
}

/// An English sentence written in Rust, in `lang`: the message whose English text it is, or
/// the sentence itself when no message has that text.
pub fn text(lang: Lang, english: &str) -> Cow<'_, str> {
    if lang == Lang::En {
        return Cow::Borrowed(english);
    }
    if let Some(id) = CATALOG.by_english.get(english) {
        return Cow::Owned(message(lang, id, None));
    }
    for shape in &CATALOG.by_shape {
        let value = english
            .strip_prefix(shape.before.as_str())
            .and_then(|rest| rest.strip_suffix(shape.after.as_str()));
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            let mut args = FluentArgs::new();
            args.set(shape.variable.as_str(), value);
            return Cow::Owned(message(lang, &shape.id, Some(&args)));
        }
    }
    Cow::Borrowed(english)
}

/// A date and time (unix seconds, shown in UTC) the way `lang` writes it.
pub fn date_time(lang: Lang, ts: i64) -> String {
    let t = primitives::UtcDateTime::from_unix(ts);
    match lang {
        Lang::En => format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            t.year, t.month, t.day, t.hour, t.minute
        ),
        Lang::De => format!(
            "{:02}.{:02}.{:04}, {:02}:{:02} UTC",
            t.day, t.month, t.year, t.hour, t.minute
        ),
    }
}

// ---- the request's page context ----

/// What every page needs beside its own fields: the reader's language and the operator's
/// brand (in the settings).
#[derive(Debug, Clone)]
pub struct PageUi {
    pub lang: Lang,
    pub settings: Arc<Settings>,
}

static DEFAULT_SETTINGS: LazyLock<Arc<Settings>> = LazyLock::new(|| Arc::new(Settings::default()));

tokio::task_local! {
    /// The page context of the request being handled (set by [`page_context`]).
    static UI: PageUi;
}

/// The page context of the request being handled; English and the default brand outside
/// one (a unit test rendering a page).
pub fn page_ui() -> PageUi {
    UI.try_with(Clone::clone).unwrap_or_else(|_| PageUi {
        lang: Lang::En,
        settings: DEFAULT_SETTINGS.clone(),
    })
}

/// The language of the request being handled.
pub fn current_lang() -> Lang {
    UI.try_with(|ui| ui.lang).unwrap_or(Lang::En)
}

/// The message `id` in the language of the request being handled.
pub fn tr(id: &str) -> String {
    message(current_lang(), id, None)
}

/// The message `id` with `args`, in the language of the request being handled.
pub fn tr_args(id: &str, args: &[(&str, &str)]) -> String {
    let mut fluent = FluentArgs::new();
    for (name, value) in args {
        fluent.set(*name, (*value).to_owned());
    }
    message(current_lang(), id, Some(&fluent))
}

/// Runs `f` with `ui` as the page context: for work moved off the request's task
/// (`web::block`) that writes words or dates of the page.
pub fn within<R>(ui: PageUi, f: impl FnOnce() -> R) -> R {
    UI.sync_scope(ui, f)
}

/// The cookie that keeps an authorization request's `ui_locales` through the sign-in steps.
pub const LANG_COOKIE: &str = "pcl_lang";

/// Middleware: works out the request's language (see the module's documentation) and runs the
/// rest of the request with its [`PageUi`], so pages render in it wherever they are made
/// (handlers, extractors' refusals, error responses). A supported `ui_locales` in the query
/// is remembered in the `pcl_lang` cookie (a session cookie).
pub async fn page_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let asked = asked_language(req.query_string());
    let lang = asked
        .or_else(|| {
            req.cookie(LANG_COOKIE)
                .and_then(|c| Lang::from_tag(c.value()))
        })
        .or_else(|| {
            req.headers()
                .get(actix_web::http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or(Lang::En);
    let settings = req
        .app_data::<web::Data<AppState>>()
        .map_or_else(|| DEFAULT_SETTINGS.clone(), |s| s.settings.clone());
    let secure = settings.issuer.scheme() == "https";
    let mut res = UI.scope(PageUi { lang, settings }, next.call(req)).await?;
    if let Some(lang) = asked {
        let cookie = Cookie::build(LANG_COOKIE, lang.code())
            .path("/")
            .http_only(true)
            .secure(secure)
            .same_site(SameSite::Lax)
            .finish();
        res.response_mut().add_cookie(&cookie).map_err(|e| {
            tracing::error!(error = %e, "the language cookie could not be set");
            actix_web::error::ErrorInternalServerError("internal error")
        })?;
    }
    Ok(res)
}

#[derive(serde::Deserialize)]
struct UiLocales {
    ui_locales: Option<String>,
    return_to: Option<String>,
}

/// The supported language a query asks for: its `ui_locales`, else the `ui_locales` of the
/// authorization request its `return_to` continues (a sign-in page reached from
/// `/oauth2/authorize`, by GET or by a POSTed form).
fn asked_language(query: &str) -> Option<Lang> {
    let q = web::Query::<UiLocales>::from_query(query)
        .ok()?
        .into_inner();
    let from_return_to = || {
        let inner = q.return_to.as_deref()?.strip_prefix("/oauth2/authorize?")?;
        asked_language(inner)
    };
    match q.ui_locales.as_deref().and_then(Lang::from_ui_locales) {
        Some(lang) => Some(lang),
        None => from_return_to(),
    }
}

/// The page context reaches askama templates as its one runtime value, `ui`.
impl askama::Values for PageUi {
    fn get_value<'a>(&'a self, key: &str) -> Option<&'a dyn std::any::Any> {
        (key == "ui").then_some(self as &dyn std::any::Any)
    }
}

/// The filters every page template uses (`use crate::i18n::filters;` beside a template).
pub mod filters {
    use std::fmt::Display;

    use fluent_bundle::FluentArgs;

    use super::{Lang, PageUi, message};

    fn ui(values: &dyn askama::Values) -> Option<&PageUi> {
        values.get_value("ui")?.downcast_ref::<PageUi>()
    }

    fn lang(values: &dyn askama::Values) -> Lang {
        ui(values).map_or(Lang::En, |u| u.lang)
    }

    /// `{{ "id"|t }}`: the message `id` in the page's language.
    pub fn t(id: impl Display, values: &dyn askama::Values) -> askama::Result<String> {
        Ok(message(lang(values), &id.to_string(), None))
    }

    /// `{{ "id"|t1("name", value) }}`: a message with one variable.
    pub fn t1(
        id: impl Display,
        values: &dyn askama::Values,
        name: &str,
        value: impl Display,
    ) -> askama::Result<String> {
        let mut args = FluentArgs::new();
        args.set(name.to_owned(), value.to_string());
        Ok(message(lang(values), &id.to_string(), Some(&args)))
    }

    /// `{{ "id"|t2("a", x, "b", y) }}`: a message with two variables.
    pub fn t2(
        id: impl Display,
        values: &dyn askama::Values,
        name1: &str,
        value1: impl Display,
        name2: &str,
        value2: impl Display,
    ) -> askama::Result<String> {
        let mut args = FluentArgs::new();
        args.set(name1.to_owned(), value1.to_string());
        args.set(name2.to_owned(), value2.to_string());
        Ok(message(lang(values), &id.to_string(), Some(&args)))
    }

    /// `{{ sentence|tx }}`: an English sentence made in Rust, in the page's language.
    pub fn tx(english: impl Display, values: &dyn askama::Values) -> askama::Result<String> {
        Ok(super::text(lang(values), &english.to_string()).into_owned())
    }

    /// `{{ "lang"|ui }}`: the page's `lang`, `dir`, `brand` (name), `logo` (URL or empty),
    /// `theme_css` ("1" when a theme stylesheet is served).
    pub fn ui_value(what: impl Display, values: &dyn askama::Values) -> askama::Result<String> {
        let Some(ui) = ui(values) else {
            return Ok(String::new());
        };
        Ok(match what.to_string().as_str() {
            "lang" => ui.lang.code().to_owned(),
            "dir" => ui.lang.dir().to_owned(),
            "brand" => ui.settings.brand_name.clone(),
            "logo" => ui.settings.brand_logo_url.clone().unwrap_or_default(),
            _ => String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_with_a_value_inside_are_found_by_the_text_around_it() {
        assert_eq!(
            text(
                Lang::De,
                "ada@example.com is your account's verified address."
            ),
            "ada@example.com ist die bestätigte Adresse Ihres Kontos."
        );
        assert_eq!(
            text(
                Lang::De,
                "We sent a message a moment ago. Try again in 42 seconds."
            ),
            "Wir haben gerade erst eine Nachricht geschickt. Versuchen Sie es in 42 Sekunden noch einmal."
        );
        assert_eq!(
            text(Lang::De, "Use the permission \u{201c}billing:read\u{201d}"),
            "Die Berechtigung \u{201e}billing:read\u{201c} verwenden"
        );
        assert_eq!(
            text(Lang::De, "The password must be at least 8 characters."),
            "Das Passwort muss mindestens 8 Zeichen lang sein."
        );
        // English stays as written; a sentence no message has stays English; the text around
        // the value alone (no value) is not a match.
        assert_eq!(
            text(
                Lang::En,
                "ada@example.com is your account's verified address."
            ),
            "ada@example.com is your account's verified address."
        );
        assert_eq!(
            text(Lang::De, "Not in the catalogue."),
            "Not in the catalogue."
        );
        assert_eq!(
            text(Lang::De, " is your account's verified address."),
            " is your account's verified address."
        );
    }

    #[test]
    fn accept_language_picks_the_preferred_supported_language() {
        let cases = [
            ("de", Some(Lang::De)),
            ("de-DE,de;q=0.9,en;q=0.8", Some(Lang::De)),
            ("fr-FR, de;q=0.5, en;q=0.7", Some(Lang::En)),
            ("en;q=0.2, de-AT;q=0.9", Some(Lang::De)),
            ("fr, it", None),
            ("de;q=0, en;q=0.1", Some(Lang::En)),
            ("de;q=zzz", None),
            ("", None),
        ];
        for (header, want) in cases {
            assert_eq!(Lang::from_accept_language(header), want, "{header:?}");
        }
    }

    #[test]
    fn the_language_asked_for_is_read_from_the_query_or_the_authorization_it_continues() {
        assert_eq!(asked_language("ui_locales=de"), Some(Lang::De));
        assert_eq!(
            asked_language("return_to=%2Foauth2%2Fauthorize%3Fclient_id%3Dx%26ui_locales%3Dde"),
            Some(Lang::De)
        );
        // Only an authorization request's: not any page's return_to.
        assert_eq!(
            asked_language("return_to=%2Faccount%3Fui_locales%3Dde"),
            None
        );
        assert_eq!(asked_language("ui_locales=fr"), None);
        assert_eq!(asked_language("ui_locales=%ZZ"), None);
    }

    #[test]
    fn ui_locales_is_read_in_order_of_preference() {
        assert_eq!(Lang::from_ui_locales("fr-CA de en"), Some(Lang::De));
        assert_eq!(Lang::from_ui_locales("en-GB de"), Some(Lang::En));
        assert_eq!(Lang::from_ui_locales("fr ja"), None);
    }

    /// Every language has every message of every other: a page is never half translated.
    #[test]
    fn every_message_exists_in_every_language() {
        let ids = |lang: Lang| -> std::collections::BTreeSet<String> {
            FILES
                .iter()
                .filter(|(l, _, _)| *l == lang)
                .flat_map(|(_, _, src)| message_ids(src))
                .collect()
        };
        let english = ids(Lang::En);
        assert!(english.len() > 100, "{} messages", english.len());
        for lang in Lang::ALL {
            let theirs = ids(lang);
            let missing: Vec<_> = english.difference(&theirs).collect();
            let extra: Vec<_> = theirs.difference(&english).collect();
            assert!(missing.is_empty(), "{lang:?} lacks {missing:?}");
            assert!(
                extra.is_empty(),
                "{lang:?} has ids English lacks: {extra:?}"
            );
        }
        // And each file parses cleanly (a junk entry would be a message lost).
        for (_, name, src) in FILES {
            if let Err((_, errors)) = fluent_syntax::parser::parse(*src) {
                panic!("{name}: {errors:?}");
            }
        }
    }

    /// Every message a template names (`"id"|t`, `"id"|t1(…)`) exists.
    #[test]
    fn every_message_a_template_uses_exists() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates");
        let known: std::collections::BTreeSet<String> = FILES
            .iter()
            .filter(|(l, _, _)| *l == Lang::En)
            .flat_map(|(_, _, src)| message_ids(src))
            .collect();
        let mut used = 0;
        for entry in std::fs::read_dir(&dir).expect("the templates folder") {
            let path = entry.expect("a template").path();
            if path.extension().is_none_or(|e| e != "html") {
                continue;
            }
            let source = std::fs::read_to_string(&path).expect("a template's text");
            for id in template_message_ids(&source) {
                used += 1;
                assert!(known.contains(&id), "{}: no message {id:?}", path.display());
            }
        }
        assert!(used > 150, "{used} uses found: the parser is broken");
    }

    /// The ids in `"id"|t`, `"id"|t1(` of a template.
    fn template_message_ids(source: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut rest = source;
        while let Some(i) = rest.find("\"|t") {
            let before = &rest[..i];
            let start = before.rfind('"').map_or(0, |s| s + 1);
            let after = &rest[i + 3..];
            if after.starts_with(['1', ' ', '}', ')']) {
                ids.push(before[start..].to_owned());
            }
            rest = &rest[i + 3..];
        }
        ids
    }

    #[test]
    fn rust_sentences_are_found_by_their_english_text() {
        assert_eq!(
            text(Lang::De, "There is nothing at this address."),
            "Unter dieser Adresse gibt es nichts."
        );
        assert_eq!(
            text(Lang::De, "not a known sentence"),
            "not a known sentence"
        );
        assert_eq!(text(Lang::En, "Page not found"), "Page not found");
    }

    #[test]
    fn dates_are_written_the_locales_way() {
        // 2026-12-04 20:12 UTC
        let ts = 1_796_415_120;
        assert_eq!(date_time(Lang::En, ts), "2026-12-04 20:12 UTC");
        assert_eq!(date_time(Lang::De, ts), "04.12.2026, 20:12 UTC");
    }
}
