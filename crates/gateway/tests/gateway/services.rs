//! Services in the store: created, found, listed, changed and deleted within their
//! organization, and the checks on what a service may be.

use gateway::{CredentialKind, GatewayError, NewService};

use crate::{create, key, new_service, opened, org};

/// The field an `Invalid` error names, or a panic naming what came instead.
fn invalid_field<T: std::fmt::Debug>(result: Result<T, GatewayError>) -> &'static str {
    match result {
        Err(GatewayError::Invalid { field, .. }) => field,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

store::backend_tests! {
    fn services_are_stored_and_found_within_their_organization(db) {
        let mut conn = db.store().conn().expect("conn");
        let (one, two) = (org(&mut conn), org(&mut conn));
        let made = create(&mut conn, &one, "openai", "https://api.openai.com", "Bearer sk-1234");
        assert!(made.id.starts_with("svc_"));
        assert_eq!(made.org_id, one);
        assert_eq!(made.base_url, "https://api.openai.com");
        assert_eq!((made.created_at, made.updated_at), (10, 10));
        assert_eq!(made.credential_kind, CredentialKind::Header);
        assert_eq!(gateway::find_service(&mut conn, &one, "openai").expect("find"), made);
        // Names are per organization: another one may use the same name, and sees only its own.
        create(&mut conn, &two, "openai", "https://api.openai.com", "Bearer sk-5678");
        create(&mut conn, &one, "anthropic", "https://api.anthropic.com", "x-key-0000");
        let names = |conn: &mut store::Conn, org: &str| -> Vec<String> {
            gateway::list_services(conn, org).expect("list").into_iter().map(|s| s.name).collect()
        };
        assert_eq!(names(&mut conn, &one), ["anthropic", "openai"], "sorted by name");
        assert_eq!(names(&mut conn, &two), ["openai"]);
        assert_eq!(opened(&mut conn, &key(), &two, "openai").expect("open"), "Bearer sk-5678");
        // The same name twice in one organization is refused.
        let again = gateway::create_service(&mut conn, &key(), &one, &new_service("openai", "https://other.example", "v"), 11);
        assert!(matches!(again, Err(GatewayError::Exists)), "{again:?}");
        // Unknown names, and names of another organization, are not found.
        assert!(matches!(gateway::find_service(&mut conn, &one, "nope"), Err(GatewayError::NotFound)));
        assert!(matches!(gateway::find_service(&mut conn, &two, "anthropic"), Err(GatewayError::NotFound)));
        assert!(matches!(gateway::service_credential(&mut conn, &key(), &two, "anthropic"), Err(GatewayError::NotFound)));
        // Deleting is per organization too, and once.
        assert!(matches!(gateway::delete_service(&mut conn, &two, "anthropic"), Err(GatewayError::NotFound)));
        gateway::delete_service(&mut conn, &one, "openai").expect("delete");
        assert!(matches!(gateway::delete_service(&mut conn, &one, "openai"), Err(GatewayError::NotFound)));
        assert_eq!(names(&mut conn, &one), ["anthropic"]);
        assert_eq!(names(&mut conn, &two), ["openai"], "the other organization's service stays");
    }

    fn what_a_service_may_be(db) {
        let mut conn = db.store().conn().expect("conn");
        let org = org(&mut conn);
        let mut try_new = |new: NewService<'_>| gateway::create_service(&mut conn, &key(), &org, &new, 0);
        let base = new_service("svc", "https://api.example.com", "Bearer x");
        for name in ["", "Upper", "with space", "slash/name", &"a".repeat(65)] {
            assert_eq!(invalid_field(try_new(NewService { name, ..base.clone() })), "name", "{name:?}");
        }
        for url in [
            "http://api.example.com",          // plain http, outside tests
            "ftp://api.example.com",
            "api.example.com",                 // not absolute
            "https://api.example.com/v1",      // a path: that is the prefix's job
            "https://api.example.com/?a=1",
            "https://api.example.com/#f",
            "https://user:pw@api.example.com", // user information
            "https://user@api.example.com",
        ] {
            assert_eq!(invalid_field(try_new(NewService { base_url: url, ..base.clone() })), "baseUrl", "{url}");
        }
        for prefix in ["v1", "/v1/../admin", "/./v1", "//v1", "/v 1", "/v1?x", &format!("/{}", "a".repeat(200))] {
            assert_eq!(invalid_field(try_new(NewService { path_prefix: prefix, ..base.clone() })), "pathPrefix", "{prefix:?}");
        }
        assert_eq!(invalid_field(try_new(NewService { credential_kind: "cookie", ..base.clone() })), "credential.kind");
        // Headers that would change how the request is framed or whom it comes from cannot
        // carry a credential; a query parameter of the same name can.
        for header in ["Host", "content-length", "Transfer-Encoding", "Connection", "Cookie", "X-Api-Key"] {
            assert_eq!(invalid_field(try_new(NewService { name: "h", credential_name: header, ..base.clone() })), "credential.name", "{header}");
        }
        for cname in ["", "with space", "colon:", &"a".repeat(65)] {
            assert_eq!(invalid_field(try_new(NewService { credential_name: cname, ..base.clone() })), "credential.name", "{cname:?}");
        }
        let long = "x".repeat(4097);
        for value in ["", "line\nbreak", "tab\there", long.as_str()] {
            assert_eq!(invalid_field(try_new(NewService { credential_value: value, ..base.clone() })), "credential.value", "{value:?}");
        }
        // Nothing refused was stored.
        assert!(gateway::list_services(&mut conn, &org).expect("list").is_empty());

        // What passes, normalised: the base URL without its slash, the prefix without a
        // trailing one; http allowed when asked (tests on loopback); a query credential.
        let mut try_new = |new: NewService<'_>| gateway::create_service(&mut conn, &key(), &org, &new, 0);
        let made = try_new(NewService { path_prefix: "/v1/", ..base.clone() }).expect("created");
        assert_eq!((made.base_url.as_str(), made.path_prefix.as_str()), ("https://api.example.com", "/v1"));
        let made = try_new(NewService { name: "local", base_url: "http://127.0.0.1:8080/", allow_http: true, ..base.clone() }).expect("http when allowed");
        assert_eq!(made.base_url, "http://127.0.0.1:8080");
        let made = try_new(NewService { name: "q", credential_kind: "query", credential_name: "api_key", credential_value: &long[..4096], ..base.clone() }).expect("query");
        assert_eq!(made.credential_kind, CredentialKind::Query);
        assert_eq!(made.credential_name, "api_key");
        assert_eq!(made.credential_hint, "…xxxx");
        let (_, credential) = gateway::service_credential(&mut conn, &key(), &org, "q").expect("open");
        assert_eq!((credential.kind, credential.value.len()), (CredentialKind::Query, 4096));
    }

    fn a_service_changes_only_through_the_same_checks(db) {
        let mut conn = db.store().conn().expect("conn");
        let org = org(&mut conn);
        create(&mut conn, &org, "svc", "https://api.example.com", "Bearer old-1111");
        let update = |conn: &mut store::Conn, prefix: Option<&str>, credential: Option<(&str, &str, &str)>| {
            gateway::update_service(conn, &key(), &org, "svc", None, prefix, credential, false, 20)
        };
        assert_eq!(invalid_field(update(&mut conn, Some("/../x"), None)), "pathPrefix");
        assert_eq!(invalid_field(update(&mut conn, None, Some(("header", "Host", "v")))), "credential.name");
        assert_eq!(invalid_field(update(&mut conn, None, Some(("body", "X", "v")))), "credential.kind");
        let refused = gateway::update_service(&mut conn, &key(), &org, "svc", Some("http://api.example.com"), None, Some(("header", "Authorization", "v")), false, 20);
        assert_eq!(invalid_field(refused), "baseUrl");
        let unchanged = gateway::find_service(&mut conn, &org, "svc").expect("find");
        assert_eq!((unchanged.updated_at, unchanged.credential_hint.as_str()), (10, "…1111"), "a refused change writes nothing");
        // A new credential, of another kind, replaces the old one, sealed again.
        let changed = update(&mut conn, Some("/v2"), Some(("query", "key", "new-2222"))).expect("update");
        assert_eq!((changed.path_prefix.as_str(), changed.credential_hint.as_str(), changed.updated_at), ("/v2", "…2222", 20));
        let (_, credential) = gateway::service_credential(&mut conn, &key(), &org, "svc").expect("open");
        assert_eq!((credential.kind, credential.name.as_str(), credential.value.as_str()), (CredentialKind::Query, "key", "new-2222"));
        // An unknown service is not found, whatever the change.
        let missing = gateway::update_service(&mut conn, &key(), &org, "nope", None, Some("/v1"), None, false, 20);
        assert!(matches!(missing, Err(GatewayError::NotFound)));
    }
}
