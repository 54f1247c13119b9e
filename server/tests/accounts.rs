//! Accounts and customers: what each role may do, adding and deactivating customers, adding
//! and disabling users, changing one's password, and that another business's ids answer
//! NOT_FOUND. Every rule is checked over REST and, where a socket action exists, over the
//! socket too.

use std::sync::{Arc, Mutex};

use pulse_protocol::events::{
    CUSTOMER_ADD, CUSTOMER_UPDATE, CUSTOMER_UPDATED, DELIVERY_UPDATE, ERROR, PAYMENT_ADD,
    PAYMENT_ADDED, USER_UPDATED,
};
use pulse_protocol::rest::Session;
use pulse_protocol::ErrorCode;
use pulse_sdk::{DisconnectReason, Event};
use reqwest::Method;
use serde_json::{json, Value};

use crate::fixture::{
    act, eventually, record, rejection, sign_in, TestServer, DEMO, OTHER, PASSWORD,
};

const STAFF: &str = "staff@pulse.demo";
/// A password long enough for new accounts.
const NEW_PASSWORD: &str = "correct horse battery";

/// Trades a refresh token; the status and body.
async fn refresh(server: &TestServer, refresh_token: &str) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/api/auth/refresh", server.url()))
        .json(&json!({ "refresh_token": refresh_token }))
        .send()
        .await
        .expect("refresh request");
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

/// The id of the user with this email, as the demo admin sees the list.
async fn user_id(server: &TestServer, admin: &Session, email: &str) -> i64 {
    let (_, page) = server.get(&admin.token, "/api/users").await;
    page["items"].as_array().unwrap().iter().find(|u| u["email"] == email).expect("listed")["id"]
        .as_i64()
        .unwrap()
}

fn code(body: &Value) -> Option<&str> {
    body["code"].as_str()
}

#[tokio::test]
async fn staff_record_deliveries_and_payments_but_manage_nothing() {
    let server = TestServer::start(|_| {}).await;
    let admin = server.login(DEMO).await;
    let (staff, client) = server.live_client(STAFF).await;
    let t = &staff.token;

    // What staff do every day works.
    let ack = act(
        &client,
        DELIVERY_UPDATE,
        json!({ "customer_id": 1, "date": "2025-02-01", "quantity": 2.0 }),
    )
    .await;
    assert!(ack.into_result().is_ok());
    let ack =
        act(&client, PAYMENT_ADD, json!({ "customer_id": 1, "amount": 3, "method": "CASH" })).await;
    assert!(ack.into_result().is_ok());
    let (status, page) = server.get(t, "/api/customers").await;
    assert_eq!((status, page["total"].as_u64()), (200, Some(40)));

    // Managing customers is for admins, over the socket and over REST.
    let ack = act(&client, CUSTOMER_ADD, json!({ "name": "Zed", "price_per_liter": 1.2 })).await;
    assert_eq!(ack.into_result().unwrap_err().code, ErrorCode::Forbidden);
    let ack = act(&client, CUSTOMER_UPDATE, json!({ "id": 1, "active": false })).await;
    assert_eq!(ack.into_result().unwrap_err().code, ErrorCode::Forbidden);
    let (status, body) = server
        .send(Method::POST, t, "/api/customers", json!({ "name": "Zed", "price_per_liter": 1.2 }))
        .await;
    assert_eq!((status, code(&body)), (403, Some("FORBIDDEN")));
    let (status, body) =
        server.send(Method::PATCH, t, "/api/customers/1", json!({ "active": false })).await;
    assert_eq!((status, code(&body)), (403, Some("FORBIDDEN")));

    // So are users: staff do not even see the list.
    let (status, body) = server.get(t, "/api/users").await;
    assert_eq!((status, code(&body)), (403, Some("FORBIDDEN")));
    let new =
        json!({ "name": "N", "email": "n@pulse.demo", "role": "admin", "password": NEW_PASSWORD });
    let (status, body) = server.send(Method::POST, t, "/api/users", new).await;
    assert_eq!((status, code(&body)), (403, Some("FORBIDDEN")));
    let admin_id = user_id(&server, &admin, DEMO).await;
    let (status, body) = server
        .send(Method::PATCH, t, &format!("/api/users/{admin_id}"), json!({ "active": false }))
        .await;
    assert_eq!((status, code(&body)), (403, Some("FORBIDDEN")));

    // Nothing changed.
    let (_, page) = server.get(&admin.token, "/api/customers?include_inactive=true").await;
    assert_eq!(page["total"], 40);
    let (_, one) = server.get(&admin.token, "/api/customers/1").await;
    assert_eq!(one["active"], true);
    let (_, users) = server.get(&admin.token, "/api/users").await;
    assert_eq!(users["total"], 2);
    assert!(users["items"].as_array().unwrap().iter().all(|u| u["active"] == true));
}

#[tokio::test]
async fn an_added_customer_reaches_every_open_tab() {
    let server = TestServer::start(|_| {}).await;
    let (_, admin) = server.live_client(DEMO).await;
    let (staff, other_tab) = server.live_client(STAFF).await;
    let (seen, _subs) = record(&other_tab, &[CUSTOMER_UPDATED]);

    let ack = act(
        &admin,
        CUSTOMER_ADD,
        json!({ "name": "  Zawadi  ", "phone": "+255 1", "price_per_liter": 1.4 }),
    )
    .await;
    let c = ack.into_result().unwrap();
    assert_eq!(
        (c["name"].as_str(), c["active"].as_bool(), c["balance"].as_f64()),
        (Some("Zawadi"), Some(true), Some(0.0))
    );
    eventually("customer:updated in the other tab", || {
        seen.lock().unwrap().iter().any(|(_, env)| env["data"]["id"] == c["id"])
    })
    .await;
    let (_, page) = server.get(&staff.token, "/api/customers").await;
    assert_eq!(page["total"], 41, "and the list has it");

    // REST too, once per idempotency key; bad input is refused in the one error shape.
    let admin_s = server.login(DEMO).await;
    let body = json!({ "name": "Baraka", "price_per_liter": 1.1, "idempotency_key": "k1" });
    let (s1, a) = server.send(Method::POST, &admin_s.token, "/api/customers", body.clone()).await;
    let (s2, b) = server.send(Method::POST, &admin_s.token, "/api/customers", body).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(a["id"], b["id"], "a retried add is applied once");
    for bad in [
        json!({ "name": " ", "price_per_liter": 1.0 }),
        json!({ "name": "X", "price_per_liter": 0 }),
        json!({ "name": "X" }),
    ] {
        let (status, body) = server.send(Method::POST, &admin_s.token, "/api/customers", bad).await;
        assert_eq!((status, code(&body)), (422, Some("INVALID_INPUT")));
    }
    let (_, page) = server.get(&staff.token, "/api/customers").await;
    assert_eq!(page["total"], 42);
}

#[tokio::test]
async fn a_deactivated_customer_is_hidden_refuses_deliveries_and_keeps_history() {
    let server = TestServer::start(|_| {}).await;
    let admin = server.login(DEMO).await;
    let (staff, client) = server.live_client(STAFF).await;
    let t = &admin.token;
    let ack = act(
        &client,
        DELIVERY_UPDATE,
        json!({ "customer_id": 5, "date": "2025-02-01", "quantity": 2.0 }),
    )
    .await;
    let past = ack.into_result().unwrap();

    let (status, c) =
        server.send(Method::PATCH, t, "/api/customers/5", json!({ "active": false })).await;
    assert_eq!((status, c["active"].as_bool()), (200, Some(false)));

    // Hidden from pickers, listed on request, readable by id.
    let (_, page) = server.get(&staff.token, "/api/customers?limit=500").await;
    assert_eq!(page["total"], 39);
    assert!(page["items"].as_array().unwrap().iter().all(|c| c["id"] != 5));
    let (_, page) = server.get(&staff.token, "/api/customers?include_inactive=true").await;
    assert_eq!(page["total"], 40);
    let (status, _) = server.get(&staff.token, "/api/customers/5").await;
    assert_eq!(status, 200);

    // No new deliveries, over the socket or REST.
    let new = json!({ "customer_id": 5, "date": "2025-02-02", "quantity": 1.0 });
    let ack = act(&client, DELIVERY_UPDATE, new.clone()).await;
    let err = ack.into_result().unwrap_err();
    assert_eq!(err.code, ErrorCode::CustomerInactive);
    assert!(err.message.contains("deactivated"), "{}", err.message);
    let (status, body) =
        server.send(Method::POST, &staff.token, "/api/deliveries", new.clone()).await;
    assert_eq!((status, code(&body)), (409, Some("CUSTOMER_INACTIVE")));

    // History stays, and a past delivery may still be corrected.
    let (_, history) = server.get(&staff.token, "/api/deliveries?customer_id=5").await;
    assert_eq!(history["total"], 1);
    let fix = json!({ "id": past["id"], "customer_id": 5, "date": "2025-02-01", "quantity": 1.5 });
    assert!(act(&client, DELIVERY_UPDATE, fix).await.into_result().is_ok());

    // Reactivated, deliveries are taken again.
    let (status, _) =
        server.send(Method::PATCH, t, "/api/customers/5", json!({ "active": true })).await;
    assert_eq!(status, 200);
    assert!(act(&client, DELIVERY_UPDATE, new).await.into_result().is_ok());
}

#[tokio::test]
async fn admins_add_users_to_their_own_business() {
    let server = TestServer::start(|_| {}).await;
    let admin = server.login(DEMO).await;
    let t = &admin.token;
    let user = |email: &str, role: &str, password: &str| json!({ "name": "Neema", "email": email, "role": role, "password": password });

    let (status, body) = server
        .send(Method::POST, t, "/api/users", user("neema@pulse.demo", "staff", "eleven char"))
        .await;
    assert_eq!((status, code(&body)), (422, Some("INVALID_INPUT")));
    assert!(body["message"].as_str().unwrap().contains("12"), "{body}");
    let (status, body) = server
        .send(Method::POST, t, "/api/users", user("neema@pulse.demo", "owner", NEW_PASSWORD))
        .await;
    assert_eq!((status, code(&body)), (422, Some("INVALID_INPUT")));
    let (status, body) = server
        .send(Method::POST, t, "/api/users", user("not an email", "staff", NEW_PASSWORD))
        .await;
    assert_eq!((status, code(&body)), (422, Some("INVALID_INPUT")));

    let (status, neema) = server
        .send(Method::POST, t, "/api/users", user("Neema@Pulse.demo", "staff", NEW_PASSWORD))
        .await;
    assert_eq!(status, 200, "{neema}");
    assert_eq!(
        (
            neema["email"].as_str(),
            neema["role"].as_str(),
            neema["active"].as_bool(),
            neema["tenant_id"].clone()
        ),
        (Some("neema@pulse.demo"), Some("staff"), Some(true), admin.user.tenant_id.into())
    );
    assert!(neema.get("password_hash").is_none() && !neema.to_string().contains(NEW_PASSWORD));
    let (status, session) = sign_in(&server, "neema@pulse.demo", NEW_PASSWORD).await;
    assert_eq!((status, session["user"]["role"].as_str()), (200, Some("staff")));

    // An email is one account, in any business.
    let (status, body) = server
        .send(Method::POST, t, "/api/users", user("admin@other.demo", "staff", NEW_PASSWORD))
        .await;
    assert_eq!((status, code(&body)), (409, Some("CONFLICT")));

    let (_, mine) = server.get(t, "/api/users").await;
    let emails: Vec<&str> =
        mine["items"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["admin@pulse.demo", "staff@pulse.demo", "neema@pulse.demo"]);
    let other = server.login(OTHER).await;
    let (_, theirs) = server.get(&other.token, "/api/users").await;
    assert_eq!(theirs["total"], 1, "another business sees only its own users");
}

#[tokio::test]
async fn a_disabled_user_cannot_sign_in_refresh_or_stay_connected() {
    let server = TestServer::start(|_| {}).await;
    let admin = server.login(DEMO).await;
    let (staff, client) = server.live_client(STAFF).await;
    let (seen, _subs) = record(&client, &[ERROR, USER_UPDATED]);
    let ended: Arc<Mutex<Option<DisconnectReason>>> = Arc::default();
    let sink = ended.clone();
    let _sub = client.on_any(move |e| {
        if let Event::Disconnected { reason } = e {
            *sink.lock().unwrap() = Some(reason.clone());
        }
    });
    let staff_id = staff.user.id;

    let (status, u) = server
        .send(
            Method::PATCH,
            &admin.token,
            &format!("/api/users/{staff_id}"),
            json!({ "active": false }),
        )
        .await;
    assert_eq!((status, u["active"].as_bool()), (200, Some(false)));

    // The open socket is told why and ended by the server.
    eventually("the socket to end", || ended.lock().unwrap().is_some()).await;
    assert_eq!(*ended.lock().unwrap(), Some(DisconnectReason::Server));
    let errors: Vec<Value> =
        seen.lock().unwrap().iter().filter(|(e, _)| e == ERROR).map(|(_, v)| v.clone()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["code"], "ACCOUNT_DISABLED");

    // No way back in: password, refresh token, the still-unexpired access token, the socket.
    let (status, body) = sign_in(&server, STAFF, PASSWORD).await;
    assert_eq!((status, code(&body)), (403, Some("ACCOUNT_DISABLED")));
    let (status, _) = sign_in(&server, STAFF, "wrong password").await;
    assert_eq!(status, 401, "a wrong password does not learn the account's state");
    let (status, _) = refresh(&server, &staff.refresh_token).await;
    assert_eq!(status, 401);
    let (status, body) = server.get(&staff.token, "/api/customers").await;
    assert_eq!((status, code(&body)), (403, Some("ACCOUNT_DISABLED")));
    let again = server.connect(&staff.token, None);
    assert!(rejection(&again).await.starts_with("ACCOUNT_DISABLED"));

    // Enabled again, they sign in as before.
    let (status, _) = server
        .send(
            Method::PATCH,
            &admin.token,
            &format!("/api/users/{staff_id}"),
            json!({ "active": true }),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = sign_in(&server, STAFF, PASSWORD).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn user_changes_reach_admins_and_the_user_but_not_other_staff() {
    let server = TestServer::start(|_| {}).await;
    let (admin, admin_tab) = server.live_client(DEMO).await;
    let (_, staff_tab) = server.live_client(STAFF).await;
    let (admin_seen, _a) = record(&admin_tab, &[USER_UPDATED]);
    let (staff_seen, _s) = record(&staff_tab, &[USER_UPDATED, PAYMENT_ADDED]);

    let new = json!({ "name": "Neema", "email": "neema@pulse.demo", "role": "staff", "password": NEW_PASSWORD });
    let (status, _) = server.send(Method::POST, &admin.token, "/api/users", new).await;
    assert_eq!(status, 200);
    eventually("user:updated for the admin", || {
        admin_seen.lock().unwrap().iter().any(|(_, v)| v["data"]["email"] == "neema@pulse.demo")
    })
    .await;
    // A later tenant-wide entry: once staff have it, they would have had the earlier one.
    let ack =
        act(&admin_tab, PAYMENT_ADD, json!({ "customer_id": 1, "amount": 1, "method": "CASH" }))
            .await;
    assert!(ack.into_result().is_ok());
    eventually("payment:added for staff", || {
        staff_seen.lock().unwrap().iter().any(|(e, _)| e == PAYMENT_ADDED)
    })
    .await;
    assert!(
        staff_seen.lock().unwrap().iter().all(|(e, _)| e != USER_UPDATED),
        "staff saw another account's change"
    );
    let (_, log) = server.get(&server.login(STAFF).await.token, "/api/events?since=0").await;
    assert!(log["events"].as_array().unwrap().iter().all(|e| e["event"] != USER_UPDATED));
}

#[tokio::test]
async fn an_admin_cannot_disable_themselves_and_a_business_keeps_an_admin() {
    let server = TestServer::start(|_| {}).await;
    let admin = server.login(DEMO).await;
    let me = admin.user.id;
    let (status, body) = server
        .send(Method::PATCH, &admin.token, &format!("/api/users/{me}"), json!({ "active": false }))
        .await;
    assert_eq!((status, code(&body)), (422, Some("INVALID_INPUT")));
    assert!(body["message"].as_str().unwrap().contains("own"), "{body}");

    // Two admins disabling each other at once: one of them stays.
    for round in 0..4 {
        let email = format!("second{round}@pulse.demo");
        let new =
            json!({ "name": "Second", "email": email, "role": "admin", "password": NEW_PASSWORD });
        let first = server.login(DEMO).await;
        let (status, second) = server.send(Method::POST, &first.token, "/api/users", new).await;
        assert_eq!(status, 200);
        let (_, s) = sign_in(&server, &email, NEW_PASSWORD).await;
        let second_token = s["token"].as_str().unwrap().to_owned();
        let (path_second, path_first) =
            (format!("/api/users/{}", second["id"]), format!("/api/users/{me}"));
        let off = json!({ "active": false });
        let (a, b) = tokio::join!(
            server.send(Method::PATCH, &first.token, &path_second, off.clone()),
            server.send(Method::PATCH, &second_token, &path_first, off.clone()),
        );
        let admins = {
            // Read as whichever admin is still active.
            let (mut status, mut users) = server.get(&first.token, "/api/users").await;
            if status != 200 {
                (status, users) = server.get(&second_token, "/api/users").await;
            }
            assert_eq!(status, 200, "round {round}: neither admin can read the users");
            let list = users["items"].as_array().unwrap().clone();
            list.iter().filter(|u| u["role"] == "admin" && u["active"] == true).count()
        };
        assert!(admins >= 1, "round {round}: no admin left ({} / {})", a.1, b.1);
        assert!(a.0 == 200 || b.0 == 200, "round {round}: one of them wins ({} / {})", a.1, b.1);
        // Back to the demo admin alone for the next round.
        let on = json!({ "active": true });
        if a.0 != 200 {
            let (status, _) = server.send(Method::PATCH, &second_token, &path_first, on).await;
            assert_eq!(status, 200);
            let first = server.login(DEMO).await;
            let (status, _) = server.send(Method::PATCH, &first.token, &path_second, off).await;
            assert_eq!(status, 200);
        }
    }
}

#[tokio::test]
async fn changing_the_password_ends_other_sessions() {
    let server = TestServer::start(|_| {}).await;
    let here = server.login(STAFF).await;
    let elsewhere = server.login(STAFF).await;
    let change =
        |current: &str, new: &str| json!({ "current_password": current, "new_password": new });

    let (status, body) = server
        .send(Method::POST, &here.token, "/api/auth/password", change("wrong one", NEW_PASSWORD))
        .await;
    assert_eq!((status, code(&body)), (401, Some("UNAUTHORIZED")));
    let (status, body) = server
        .send(Method::POST, &here.token, "/api/auth/password", change(PASSWORD, "short"))
        .await;
    assert_eq!((status, code(&body)), (422, Some("INVALID_INPUT")));
    let (status, _) = sign_in(&server, STAFF, PASSWORD).await;
    assert_eq!(status, 200, "refused changes change nothing");

    let (status, fresh) = server
        .send(Method::POST, &here.token, "/api/auth/password", change(PASSWORD, NEW_PASSWORD))
        .await;
    assert_eq!(status, 200, "{fresh}");
    let (status, _) = refresh(&server, &elsewhere.refresh_token).await;
    assert_eq!(status, 401, "another session cannot renew itself");
    let (status, _) = refresh(&server, &here.refresh_token).await;
    assert_eq!(status, 401, "nor can this one's old token");
    let (status, _) = refresh(&server, fresh["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, 200, "the session handed back can");
    assert_eq!(sign_in(&server, STAFF, PASSWORD).await.0, 401);
    assert_eq!(sign_in(&server, STAFF, NEW_PASSWORD).await.0, 200);
}

#[tokio::test]
async fn another_businesss_customers_and_users_answer_not_found() {
    let server = TestServer::start(|_| {}).await;
    let demo = server.login(DEMO).await;
    let (other, client) = server.live_client(OTHER).await;
    let staff_id = user_id(&server, &demo, STAFF).await;
    let t = &other.token;

    let (status, body) = server.get(t, "/api/customers/1").await;
    assert_eq!((status, code(&body)), (404, Some("NOT_FOUND")));
    let (status, body) =
        server.send(Method::PATCH, t, "/api/customers/1", json!({ "active": false })).await;
    assert_eq!((status, code(&body)), (404, Some("NOT_FOUND")));
    let ack = act(&client, CUSTOMER_UPDATE, json!({ "id": 1, "active": false })).await;
    assert_eq!(ack.into_result().unwrap_err().code, ErrorCode::NotFound);
    let ack =
        act(&client, PAYMENT_ADD, json!({ "customer_id": 1, "amount": 1, "method": "CASH" })).await;
    assert_eq!(ack.into_result().unwrap_err().code, ErrorCode::NotFound);
    let (status, body) = server
        .send(Method::PATCH, t, &format!("/api/users/{staff_id}"), json!({ "active": false }))
        .await;
    assert_eq!((status, code(&body)), (404, Some("NOT_FOUND")));

    // A delivery of the demo business, by id.
    let (_, d) = server
        .send(
            Method::POST,
            &demo.token,
            "/api/deliveries",
            json!({ "customer_id": 1, "date": "2025-02-01", "quantity": 1.0 }),
        )
        .await;
    let ack = act(
        &client,
        DELIVERY_UPDATE,
        json!({ "id": d["id"], "customer_id": 41, "date": "2025-02-01", "quantity": 9.0 }),
    )
    .await;
    assert_eq!(ack.into_result().unwrap_err().code, ErrorCode::NotFound);

    let (_, one) = server.get(&demo.token, "/api/customers/1").await;
    assert_eq!(one["active"], true);
    assert_eq!(sign_in(&server, STAFF, PASSWORD).await.0, 200, "the staff account is untouched");
}
