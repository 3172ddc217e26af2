//! The Kubernetes manifests of `deploy/kubernetes` (kustomize): every file the kustomization
//! names parses and has the shape its kind needs; the selectors of the Service and the
//! PodDisruptionBudget find the Deployment's pods; the probes name the container's port; the
//! shutdown fits in the grace period; the trusted-proxy setting is there. Then a real
//! `portcullis serve` runs with the ConfigMap's settings (and the Secret's keys, made here) on
//! PostgreSQL, and the probes' paths answer as the kubelet expects.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use yaml_rust2::{Yaml, YamlLoader};

use crate::cluster::{Instance, http};

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/kubernetes")
}

/// Every object of every file the kustomization lists, by kind.
fn objects() -> BTreeMap<String, Yaml> {
    let kustomization = load(&folder().join("kustomization.yaml"));
    assert_eq!(
        kustomization["kind"].as_str(),
        Some("Kustomization"),
        "kustomization.yaml"
    );
    let mut out = BTreeMap::new();
    let resources = kustomization["resources"]
        .as_vec()
        .expect("kustomization.yaml lists resources");
    for file in resources {
        let file = file.as_str().expect("a resource is a file name");
        let docs = YamlLoader::load_from_str(&read(&folder().join(file)))
            .unwrap_or_else(|e| panic!("{file} is not YAML: {e}"));
        for doc in docs {
            let kind = doc["kind"]
                .as_str()
                .expect("every object has a kind")
                .to_owned();
            assert!(
                doc["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| !n.is_empty()),
                "{file}: {kind} has no name"
            );
            let expected = match kind.as_str() {
                "Deployment" => "apps/v1",
                "Service" | "ConfigMap" => "v1",
                "PodDisruptionBudget" => "policy/v1",
                "Ingress" => "networking.k8s.io/v1",
                other => panic!("{file}: unexpected kind {other}"),
            };
            assert_eq!(doc["apiVersion"].as_str(), Some(expected), "{file}: {kind}");
            assert!(
                out.insert(kind.clone(), doc).is_none(),
                "two objects of kind {kind}"
            );
        }
    }
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load(path: &Path) -> Yaml {
    YamlLoader::load_from_str(&read(path))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .next()
        .expect("one document")
}

fn labels(map: &Yaml) -> BTreeMap<String, String> {
    map.as_hash()
        .map(|h| {
            h.iter()
                .map(|(k, v)| {
                    let k = k.as_str().expect("label key").to_owned();
                    (k, v.as_str().expect("label value").to_owned())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether every label of `selector` is on `pod`.
fn selects(selector: &BTreeMap<String, String>, pod: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| pod.get(k) == Some(v))
}

/// The ConfigMap's settings.
fn settings(objects: &BTreeMap<String, Yaml>) -> BTreeMap<String, String> {
    objects["ConfigMap"]["data"]
        .as_hash()
        .expect("the ConfigMap has data")
        .iter()
        .map(|(k, v)| {
            let k = k.as_str().expect("a setting's name").to_owned();
            let v = v
                .as_str()
                .unwrap_or_else(|| panic!("{k}: quote it, values are strings"));
            (k, v.to_owned())
        })
        .collect()
}

#[test]
fn the_manifests_fit_together() {
    let objects = objects();
    for kind in [
        "ConfigMap",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "Ingress",
    ] {
        assert!(objects.contains_key(kind), "no {kind}");
    }
    let deployment = &objects["Deployment"];
    let spec = &deployment["spec"];
    assert!(
        spec["replicas"].as_i64().is_some_and(|n| n >= 2),
        "N instances: at least two replicas"
    );
    assert_eq!(
        spec["strategy"]["rollingUpdate"]["maxUnavailable"].as_i64(),
        Some(0),
        "a rollout never lowers the serving instances"
    );
    let pod_labels = labels(&spec["template"]["metadata"]["labels"]);
    assert!(
        selects(&labels(&spec["selector"]["matchLabels"]), &pod_labels),
        "the Deployment's selector finds its own pods"
    );
    assert!(
        selects(
            &labels(&objects["Service"]["spec"]["selector"]),
            &pod_labels
        ),
        "the Service finds the pods"
    );
    let pdb = &objects["PodDisruptionBudget"]["spec"];
    assert!(
        selects(&labels(&pdb["selector"]["matchLabels"]), &pod_labels),
        "the PodDisruptionBudget finds the pods"
    );
    assert!(
        pdb["maxUnavailable"].as_i64().is_some_and(|n| n >= 1)
            || pdb["minAvailable"].as_i64().is_some_and(|n| n >= 1),
        "the PodDisruptionBudget bounds voluntary disruptions"
    );

    let pod = &spec["template"]["spec"];
    let containers = pod["containers"].as_vec().expect("containers");
    assert_eq!(containers.len(), 1);
    let container = &containers[0];
    let port = &container["ports"][0];
    let (port_name, port_number) = (
        port["name"].as_str().expect("a named port"),
        port["containerPort"].as_i64().expect("containerPort"),
    );
    for (probe, path) in [
        ("livenessProbe", "/health"),
        ("readinessProbe", "/health/ready"),
        ("startupProbe", "/health"),
    ] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"].as_str(), Some(path), "{probe}");
        assert_eq!(
            get["port"].as_str(),
            Some(port_name),
            "{probe} names the port"
        );
    }
    let service_port = &objects["Service"]["spec"]["ports"][0];
    assert_eq!(service_port["targetPort"].as_str(), Some(port_name));
    let backend = &objects["Ingress"]["spec"]["rules"][0]["http"]["paths"][0]["backend"];
    assert_eq!(
        backend["service"]["name"].as_str(),
        objects["Service"]["metadata"]["name"].as_str()
    );
    assert_eq!(
        backend["service"]["port"]["name"].as_str(),
        service_port["name"].as_str()
    );

    // The image's user (Dockerfile), never root, nothing writable but the working folder.
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(pod["securityContext"]["runAsUser"].as_i64(), Some(10001));
    let sc = &container["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true));
    let mounts = container["volumeMounts"].as_vec().expect("volumeMounts");
    assert!(
        mounts
            .iter()
            .any(|m| m["mountPath"].as_str() == Some("/var/lib/portcullis")),
        "the working folder (mail outbox) is writable"
    );

    let settings = settings(&objects);
    assert_eq!(
        settings.get("PORTCULLIS_BIND").map(String::as_str),
        Some(format!("0.0.0.0:{port_number}").as_str()),
        "the server listens on the container's port, on every address"
    );
    let shutdown: i64 = settings["PORTCULLIS_SHUTDOWN_TIMEOUT"]
        .parse()
        .expect("seconds");
    let grace = pod["terminationGracePeriodSeconds"]
        .as_i64()
        .expect("grace period");
    let pause = container["lifecycle"]["preStop"]["exec"]["command"][1]
        .as_str()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0);
    assert!(
        shutdown + pause < grace,
        "in-flight requests finish before the kubelet kills the pod ({pause} s + {shutdown} s < {grace} s)"
    );
    assert!(
        settings.contains_key("PORTCULLIS_TRUSTED_PROXIES"),
        "behind the ingress controller, every user would share one sign-in limit"
    );
    assert!(
        !settings.contains_key("PORTCULLIS_DATABASE_URL"),
        "the database URL holds a password: it belongs in the Secret"
    );
    let from_secret: Vec<&str> = container["env"]
        .as_vec()
        .expect("env")
        .iter()
        .filter(|e| !e["valueFrom"]["secretKeyRef"].is_badvalue())
        .filter_map(|e| e["name"].as_str())
        .collect();
    for name in ["PORTCULLIS_DATABASE_URL", "PORTCULLIS_ENCRYPTION_KEYS"] {
        assert!(from_secret.contains(&name), "{name} comes from the Secret");
    }
}

/// The ConfigMap's settings start a real server (a bad value would stop it, naming the
/// setting), and the probes' paths answer 200 once PostgreSQL answers.
#[actix_web::test]
async fn an_instance_starts_with_the_manifests_settings_and_answers_its_probes() {
    let objects = objects();
    let db = store::testing::TestDb::postgres();
    let keys = format!(
        "k1:{}",
        base64::engine::general_purpose::STANDARD.encode([7u8; 32])
    );
    let mut env: Vec<(String, String)> = settings(&objects)
        .into_iter()
        // The test listens on a free loopback port; the bind itself is checked above.
        .filter(|(k, _)| k != "PORTCULLIS_BIND")
        .collect();
    env.push(("PORTCULLIS_ENCRYPTION_KEYS".into(), keys));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let instance = Instance::start(db.url(), &env).await;
    let container = &objects["Deployment"]["spec"]["template"]["spec"]["containers"][0];
    let http = http();
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let path = container[probe]["httpGet"]["path"].as_str().expect("path");
        let res = http.get(instance.url(path)).send().await.expect("probe");
        assert_eq!(res.status(), 200, "{probe} {path}");
    }
}
