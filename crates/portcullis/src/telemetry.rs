//! Logging with `tracing`: human-readable lines by default, JSON lines with
//! `PORTCULLIS_LOG_FORMAT=json`. Requests are logged under the target `portcullis::access` at
//! debug level (method, route, status, latency, request id; never a query string).
//!
//! Traces: when `portcullis serve` finds `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) in its environment, the spans of the target
//! `server::traces::TARGET` (one server span per request, one span per unit of database work)
//! are exported over OTLP (HTTP/protobuf) by a batch processor on a thread of its own; the
//! other spans and every log event stay out of the traces. Without the variable there is no
//! exporter and no OpenTelemetry layer, and the log filter turns the target off, so those spans
//! are never built. See docs/operations.md, "Traces".

use std::io::IsTerminal as _;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::settings::{Config, LogFormat};

/// Checks a log filter before anything is set up, so a typo is a settings error.
pub fn check_filter(filter: &str) -> Result<String, String> {
    EnvFilter::try_new(filter)
        .map(|_| filter.to_owned())
        .map_err(|e| format!("{filter:?}: {e}"))
}

/// Where and how to export traces: read from the standard `OTEL_*` variables by
/// [`Traces::from_env`], checked, so a typo stops the start instead of losing every span.
#[derive(Debug)]
pub struct Traces {
    /// The full URL spans are posted to (`…/v1/traces`).
    endpoint: String,
    sampler: Sampler,
    /// `OTEL_SERVICE_NAME` and `service.name` in `OTEL_RESOURCE_ATTRIBUTES` both absent: the
    /// service is named `portcullis` (the SDK would say `unknown_service`).
    default_service_name: bool,
}

impl Traces {
    /// `None` when traces are off: no endpoint variable, or `OTEL_SDK_DISABLED=true`.
    ///
    /// Read here: the endpoints (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as is, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/traces` appended), `OTEL_EXPORTER_OTLP_PROTOCOL`
    /// (only `http/protobuf`), `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` (checked
    /// here: the SDK would fall back silently), `OTEL_SERVICE_NAME` (only for the default).
    /// The SDK reads the rest itself: `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`, `_TIMEOUT` and
    /// `_COMPRESSION`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`, `OTEL_BSP_*` and the
    /// span limits.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let endpoint = if let Some(endpoint) = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            check_endpoint("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint.trim())?
        } else if let Some(base) = var("OTEL_EXPORTER_OTLP_ENDPOINT") {
            let base = base.trim();
            check_endpoint(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                &format!("{}/v1/traces", base.trim_end_matches('/')),
            )?
        } else {
            return Ok(None);
        };
        let protocol = var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"));
        if let Some(protocol) = protocol
            && protocol.trim() != "http/protobuf"
        {
            return Err(format!(
                "OTEL_EXPORTER_OTLP_PROTOCOL={protocol:?}: only \"http/protobuf\" is built in"
            ));
        }
        let sampler = sampler(
            var("OTEL_TRACES_SAMPLER").as_deref(),
            var("OTEL_TRACES_SAMPLER_ARG").as_deref(),
        )?;
        let named_in_attributes = var("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|attributes| {
            attributes
                .split(',')
                .filter_map(|pair| pair.split_once('='))
                .any(|(key, value)| key.trim() == "service.name" && !value.trim().is_empty())
        });
        Ok(Some(Self {
            endpoint,
            sampler,
            default_service_name: var("OTEL_SERVICE_NAME").is_none() && !named_in_attributes,
        }))
    }
}

/// An OTLP endpoint must be an `http://` URL: the exporter's client has no TLS (a collector
/// runs beside the server, as a sidecar or a node agent, and forwards over TLS itself).
fn check_endpoint(name: &str, endpoint: &str) -> Result<String, String> {
    let url = url::Url::parse(endpoint).map_err(|e| format!("{name}={endpoint:?}: {e}"))?;
    match url.scheme() {
        "http" if url.host().is_some() => Ok(url.to_string()),
        "http" => Err(format!("{name}={endpoint:?}: the URL names no host")),
        "https" => Err(format!(
            "{name}={endpoint:?}: https is not built in; send spans to a collector over http \
             (a sidecar or node agent) and let it forward them over TLS"
        )),
        other => Err(format!(
            "{name}={endpoint:?}: the scheme {other:?} is not http"
        )),
    }
}

/// The sampler the standard variables name (the default: `parentbased_always_on`).
fn sampler(name: Option<&str>, arg: Option<&str>) -> Result<Sampler, String> {
    let ratio = || -> Result<f64, String> {
        let Some(arg) = arg else {
            return Ok(1.0);
        };
        match arg.trim().parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
            _ => Err(format!(
                "OTEL_TRACES_SAMPLER_ARG={arg:?}: a ratio from 0 to 1 was expected"
            )),
        }
    };
    Ok(match name.map(str::trim) {
        None | Some("parentbased_always_on") => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        Some("always_on") => Sampler::AlwaysOn,
        Some("always_off") => Sampler::AlwaysOff,
        Some("traceidratio") => Sampler::TraceIdRatioBased(ratio()?),
        Some("parentbased_always_off") => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        Some("parentbased_traceidratio") => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(ratio()?)))
        }
        Some(other) => {
            return Err(format!(
                "OTEL_TRACES_SAMPLER={other:?}: one of always_on, always_off, traceidratio, \
                 parentbased_always_on, parentbased_always_off, parentbased_traceidratio"
            ));
        }
    })
}

/// What [`init`] set up; [`Telemetry::shutdown`] flushes the spans still queued.
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports the spans still queued and stops the exporter (waiting at most
    /// `OTEL_BSP_EXPORT_TIMEOUT` for the collector). Nothing to do without traces.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            tracing::warn!(error = %e, "traces: the last spans could not be exported");
        }
    }
}

/// Installs the global subscriber, with the OTLP exporter when `traces` says where to.
/// Safe to call twice (the second call installs nothing). Fails only when the exporter cannot
/// be built.
pub fn init(settings: &Config, traces: Option<Traces>) -> Result<Telemetry, String> {
    let filter = EnvFilter::try_new(&settings.log_level)
        .unwrap_or_else(|_| EnvFilter::new("info"))
        // The spans meant for OpenTelemetry never reach the log lines, whatever the level.
        .add_directive(
            format!("{}=off", server::traces::TARGET)
                .parse()
                .expect("a fixed directive"),
        );
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = match settings.log_format {
        LogFormat::Human => fmt.with_ansi(std::io::stderr().is_terminal()).boxed(),
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    let provider = traces.map(provider).transpose()?;
    let otel = provider.as_ref().map(|provider| {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("portcullis"))
            .with_location(false)
            .with_threads(false)
            .with_filter(Targets::new().with_target(server::traces::TARGET, tracing::Level::INFO))
    });
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .try_init();
    Ok(Telemetry { provider })
}

/// The tracer provider: OTLP over HTTP/protobuf, batched on the processor's own thread (so it
/// needs no async runtime, and actix's per-worker runtimes are left alone).
fn provider(traces: Traces) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(traces.endpoint)
        .build()
        .map_err(|e| format!("traces: {e}"))?;
    let mut resource = Resource::builder();
    if traces.default_service_name {
        resource = resource.with_service_name("portcullis");
    }
    let resource = resource
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(traces.sampler)
        .with_resource(resource)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traces(vars: &[(&str, &str)]) -> Result<Option<Traces>, String> {
        Traces::from_env(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn without_an_endpoint_or_when_disabled_there_are_no_traces() {
        assert!(traces(&[]).expect("no variables").is_none());
        assert!(
            traces(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "")])
                .expect("empty")
                .is_none()
        );
        assert!(
            traces(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
                ("OTEL_SDK_DISABLED", "TRUE"),
            ])
            .expect("disabled")
            .is_none()
        );
    }

    #[test]
    fn the_base_endpoint_gets_the_signal_path_and_the_traces_endpoint_is_used_as_is() {
        let base = traces(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")])
            .expect("valid")
            .expect("on");
        assert_eq!(base.endpoint, "http://collector:4318/v1/traces");
        let exact = traces(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://collector:4318/custom",
            ),
        ])
        .expect("valid")
        .expect("on");
        assert_eq!(exact.endpoint, "http://collector:4318/custom");
    }

    #[test]
    fn a_bad_endpoint_protocol_or_sampler_is_a_clear_error() {
        for (vars, says) in [
            (
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318")],
                "https is not built in",
            ),
            (
                vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")],
                "not http",
            ),
            (
                vec![
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ],
                "http/protobuf",
            ),
            (
                vec![
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
                    ("OTEL_TRACES_SAMPLER", "sometimes"),
                ],
                "OTEL_TRACES_SAMPLER=\"sometimes\"",
            ),
            (
                vec![
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
                    ("OTEL_TRACES_SAMPLER", "traceidratio"),
                    ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
                ],
                "a ratio from 0 to 1",
            ),
        ] {
            let error = traces(&vars).expect_err("refused");
            assert!(error.contains(says), "{error}");
        }
    }

    #[test]
    fn the_standard_samplers_are_understood() {
        for (name, arg, debug) in [
            ("always_on", None, "AlwaysOn"),
            ("always_off", None, "AlwaysOff"),
            ("traceidratio", Some("0.25"), "TraceIdRatioBased(0.25)"),
            ("parentbased_always_on", None, "ParentBased(AlwaysOn)"),
            ("parentbased_always_off", None, "ParentBased(AlwaysOff)"),
            (
                "parentbased_traceidratio",
                Some("0.5"),
                "ParentBased(TraceIdRatioBased(0.5))",
            ),
        ] {
            let sampler = sampler(Some(name), arg).expect("a standard sampler");
            assert_eq!(format!("{sampler:?}"), debug, "{name}");
        }
    }

    #[test]
    fn the_service_is_named_portcullis_unless_the_operator_names_it() {
        let on = |vars: &[(&str, &str)]| {
            let mut all = vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")];
            all.extend_from_slice(vars);
            traces(&all).expect("valid").expect("on")
        };
        assert!(on(&[]).default_service_name);
        assert!(!on(&[("OTEL_SERVICE_NAME", "idp")]).default_service_name);
        assert!(
            !on(&[(
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=prod, service.name=idp"
            )])
            .default_service_name
        );
    }
}
