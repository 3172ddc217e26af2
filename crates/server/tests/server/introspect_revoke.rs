//! `POST /oauth2/introspect` (RFC 7662), `POST /oauth2/revoke` (RFC 7009) and key rotation,
//! driven by the `oauth2` crate.

use oauth2::basic::BasicClient;
use oauth2::{
    AccessToken, ClientId, ClientSecret, IntrospectionUrl, RevocationUrl, StandardRevocableToken,
    TokenIntrospectionResponse as _, TokenResponse as _, TokenUrl,
};

use crate::common::*;
use crate::token::{oauth_http, service_client, verify_with_jwks};

type Client = oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    oauth2::basic::BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
    oauth2::EndpointSet,
    oauth2::EndpointSet,
>;

fn client(server: &TestServer, id: &str, secret: &str) -> Client {
    BasicClient::new(ClientId::new(id.into()))
        .set_client_secret(ClientSecret::new(secret.into()))
        .set_token_uri(TokenUrl::new(server.url("/oauth2/token")).expect("url"))
        .set_introspection_url(
            IntrospectionUrl::new(server.url("/oauth2/introspect")).expect("url"),
        )
        .set_revocation_url(RevocationUrl::new(server.url("/oauth2/revoke")).expect("url"))
}

async fn new_token(client: &Client) -> AccessToken {
    client
        .exchange_client_credentials()
        .request_async(&oauth_http())
        .await
        .expect("token")
        .access_token()
        .clone()
}

on_both_backends! {
    async fn introspect_then_revoke_then_introspect_again(db) {
        let server = TestServer::start(&db);
        let (id, secret) = service_client(&server, "client_secret_basic").await;
        let c = client(&server, &id, &secret);
        let token = new_token(&c).await;

        let info = c.introspect(&token).request_async(&oauth_http()).await.expect("introspect");
        assert!(info.active());
        assert_eq!(info.client_id().map(|c| c.as_str()), Some(id.as_str()));
        assert_eq!(info.sub(), Some(id.as_str()));
        assert_eq!(info.iss(), Some(server.base.as_str()));
        assert!(info.exp().is_some() && info.iat().is_some() && info.jti().is_some());
        assert_eq!(info.scopes().map(|s| s.len()), Some(2));

        // The oauth2 crate refuses to send a revocation request over plain http (RFC 7009 asks
        // for TLS), and these tests run on loopback http: the request it would send, by hand.
        assert!(c.revoke_token(StandardRevocableToken::AccessToken(token.clone())).is_err());
        let res = server.post_form("/oauth2/revoke", Some((&id, &secret)), &[
            ("token", token.secret()),
            ("token_type_hint", "access_token"),
        ]).await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let info = c.introspect(&token).request_async(&oauth_http()).await.expect("introspect");
        assert!(!info.active());
        // Revoking twice, or revoking nonsense, is still 200 (RFC 7009 §2.2).
        let res = server.post_form("/oauth2/revoke", Some((&id, &secret)), &[("token", token.secret())]).await;
        assert_eq!(res.status(), 200);
        let res = server.post_form("/oauth2/revoke", Some((&id, &secret)), &[("token", "not-a-token"), ("token_type_hint", "refresh_token")]).await;
        assert_eq!(res.status(), 200);
    }

    async fn expired_malformed_foreign_and_deleted_client_tokens_are_inactive(db) {
        let server = TestServer::start(&db);
        let (id, secret) = service_client(&server, "client_secret_basic").await;
        let c = client(&server, &id, &secret);
        let token = new_token(&c).await;
        let inactive = |body: serde_json::Value| {
            assert_eq!(body, serde_json::json!({ "active": false }));
        };
        for junk in ["x", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."] {
            let res = server.post_form("/oauth2/introspect", Some((&id, &secret)), &[("token", junk)]).await;
            assert_eq!(res.status(), 200);
            inactive(json_of(res).await);
        }
        // A token from another Portcullis (another issuer, other keys).
        let other_db = TestDb::sqlite();
        let other = TestServer::start(&other_db);
        let (oid, osecret) = service_client(&other, "client_secret_basic").await;
        let foreign = new_token(&client(&other, &oid, &osecret)).await;
        let res = server.post_form("/oauth2/introspect", Some((&id, &secret)), &[("token", foreign.secret())]).await;
        inactive(json_of(res).await);
        // Expired: move the server's clock past the token's lifetime.
        server.clock.advance(3600);
        let res = server.post_form("/oauth2/introspect", Some((&id, &secret)), &[("token", token.secret())]).await;
        inactive(json_of(res).await);
        server.clock.advance(-3600);
        // A deleted client's tokens die with it. Deleted behind the server's back (as another
        // instance or the command line would), the client is seen gone once the client cache
        // time (10 s by default) has passed.
        let (id2, secret2) = service_client(&server, "client_secret_basic").await;
        let token2 = new_token(&client(&server, &id2, &secret2)).await;
        {
            let mut conn = db.store().conn().expect("conn");
            registration::delete_client(&mut conn, &id2).expect("delete");
        }
        server.clock.advance(11);
        let res = server.post_form("/oauth2/introspect", Some((&id, &secret)), &[("token", token2.secret())]).await;
        inactive(json_of(res).await);
    }

    async fn introspection_and_revocation_need_client_authentication(db) {
        let server = TestServer::start(&db);
        let (id, secret) = service_client(&server, "client_secret_basic").await;
        let token = new_token(&client(&server, &id, &secret)).await;
        for path in ["/oauth2/introspect", "/oauth2/revoke"] {
            let res = server.post_form(path, None, &[("token", token.secret())]).await;
            assert_eq!(res.status(), 401, "{path}");
            assert_eq!(json_of(res).await["error"], "invalid_client");
            let res = server.post_form(path, Some((&id, "wrong")), &[("token", token.secret())]).await;
            assert_eq!(res.status(), 401, "{path}");
            let res = server.post_form(path, Some((&id, &secret)), &[]).await;
            assert_eq!(res.status(), 400, "{path}");
            assert_eq!(json_of(res).await["error"], "invalid_request");
        }
        // Another client cannot revoke this client's token.
        let (other, other_secret) = service_client(&server, "client_secret_basic").await;
        let res = server.post_form("/oauth2/revoke", Some((&other, &other_secret)), &[("token", token.secret())]).await;
        assert_eq!(res.status(), 400);
        assert_eq!(json_of(res).await["error"], "unauthorized_client");
        let res = server.post_form("/oauth2/introspect", Some((&id, &secret)), &[("token", token.secret())]).await;
        assert_eq!(json_of(res).await["active"], true, "still active");
    }

    async fn key_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_kid(db) {
        let server = TestServer::start(&db);
        let (id, secret) = service_client(&server, "client_secret_basic").await;
        let c = client(&server, &id, &secret);
        let old = new_token(&c).await;
        let old_kid = jsonwebtoken::decode_header(old.secret()).expect("header").kid.expect("kid");
        let new_kid = {
            let mut conn = db.store().conn().expect("conn");
            tokens::rotate_key(&mut conn, tokens::SigningAlg::Es256, server.clock_now(), server.encryption_keys.as_deref()).expect("rotate")
        };
        let new = new_token(&c).await;
        let kid = jsonwebtoken::decode_header(new.secret()).expect("header").kid.expect("kid");
        assert_eq!(kid, new_kid);
        assert_ne!(kid, old_kid);
        verify_with_jwks(&server, old.secret(), &server.base).await;
        verify_with_jwks(&server, new.secret(), &server.base).await;
        for t in [&old, &new] {
            let info = c.introspect(t).request_async(&oauth_http()).await.expect("introspect");
            assert!(info.active());
        }
    }
}
