#![allow(
    unreachable_pub,
    clippy::many_single_char_names,
    missing_docs,
    clippy::unwrap_used,
    clippy::missing_panics_doc
)]
//! The conformance suite: one set of HTTP scenarios over real TCP, instantiated for every
//! adapter and storage backend (the `route_tests!` pattern), plus the races of the contract.
//!
//! PostgreSQL runs read `AUTHX_TEST_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`),
//! MySQL/MariaDB runs `AUTHX_TEST_MYSQL_URL` (e.g. `mysql://root@127.0.0.1:3306/test`), and
//! each creates a database of its own; without the variable they print that they skipped.
//!
//! `mail` runs email and CAPTCHA end to end against real SMTP and siteverify servers; `admin`
//! the admin and search routers.

mod admin;
mod examples;
mod hardening;
mod instances;
mod mail;
mod openapi;
mod password;
mod scenarios;
mod sessions;
mod social;
mod support;
mod two_factor;

/// Instantiates every scenario for one adapter and backend.
macro_rules! route_tests {
    ($module:ident, $adapter:expr, $backend:expr, [$($scenario:ident),* $(,)?]) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let Some(server) = crate::support::TestServer::start($adapter, $backend, crate::support::Options::default()).await else {
                        return;
                    };
                    crate::scenarios::$scenario(&server).await;
                }
            )*
        }
    };
}

macro_rules! all_scenarios {
    ($module:ident, $adapter:expr, $backend:expr) => {
        route_tests!(
            $module,
            $adapter,
            $backend,
            [
                register_sets_cookies_and_stores_a_verifiable_hash,
                register_validation_in_order,
                register_rejects_malformed_bodies,
                register_race_creates_one_user,
                login_by_username_and_email,
                login_failures,
                login_lockout_and_reset,
                login_per_ip_limit,
                login_concurrent_failures_all_count,
                hidden_user_existence,
                logout_revokes_the_session,
                token_returns_claims_bearer_or_cookie,
                forged_tokens_are_refused,
                refresh_rotates_and_detects_reuse,
                refresh_race_has_one_winner,
                refresh_edge_cases,
                email_confirmation_flow,
                confirmation_tokens_expire_and_are_single_use,
                change_username_rules,
                change_username_race_has_one_winner,
                routing_errors_are_json,
                cross_site_requests_are_refused,
                double_submit_csrf,
                tokens_in_body_for_api_clients,
                revoked_sessions_lose_access_at_once,
                jwks_serves_asymmetric_keys,
                sessions_are_listed_with_their_clients,
                ending_one_session_kills_its_tokens_at_once,
                revoke_others_and_logout_all,
                sessions_end_at_their_absolute_lifetime,
                storage_stays_bounded_by_live_data,
                admin_routes_need_an_admin_in_storage,
                ban_ends_sessions_at_once,
                bans_with_an_expiry_lift_themselves,
                kick_ends_sessions_and_login_works,
                blackout_logs_everyone_out,
                permission_changes_end_sessions,
                two_admins_act_on_one_user_at_once,
                user_lookup_and_id_by_username,
                search_matches_literal_substrings,
                search_pages_exactly,
                admin_bootstrapped_by_email,
                admin_actions_are_logged,
                forgot_password_answers_alike_whatever_the_account,
                forgot_password_is_limited_per_client_ip,
                password_reset_ends_every_session_and_sets_no_cookies,
                password_reset_checks_the_token_first_then_the_rules,
                one_reset_token_used_at_once_has_one_winner,
                a_reset_token_issued_before_a_password_change_is_refused,
                password_change_rotates_this_session_and_ends_the_others,
                a_wrong_current_password_counts_toward_the_lockout,
                concurrent_password_changes_have_one_winner,
                a_first_password_for_an_account_without_one,
                password_routes_shadow_nothing,
                login_limit_has_no_window_edge,
                ipv6_clients_are_limited_per_64,
                forwarding_headers_through_every_adapter,
                future_dated_tokens_are_refused,
                token_header_attacks_are_refused,
                path_variants_of_login_never_skip_the_budget,
                unknown_users_cost_what_wrong_passwords_cost,
                unicode_passwords_are_one_password,
                legacy_password_hashes_are_replaced_at_login,
                unicode_emails_are_one_account,
                request_limits_over_tcp,
                totp_enrolment_and_login_with_a_code,
                the_challenge_cookie_is_short_lived_and_single_use,
                five_wrong_codes_end_the_challenge_and_lock_the_account,
                recovery_codes_work_once_and_can_be_replaced,
                disabling_needs_the_password_and_a_code,
                the_stored_secret_is_sealed,
                concurrent_right_codes_open_one_session,
            ]
        );
    };
}

all_scenarios!(
    axum_sqlite,
    crate::support::Adapter::Axum,
    crate::support::Backend::Sqlite
);
all_scenarios!(
    axum_postgres,
    crate::support::Adapter::Axum,
    crate::support::Backend::Postgres
);
all_scenarios!(
    actix_sqlite,
    crate::support::Adapter::Actix,
    crate::support::Backend::Sqlite
);
all_scenarios!(
    actix_postgres,
    crate::support::Adapter::Actix,
    crate::support::Backend::Postgres
);
all_scenarios!(
    rocket_sqlite,
    crate::support::Adapter::Rocket,
    crate::support::Backend::Sqlite
);
all_scenarios!(
    rocket_postgres,
    crate::support::Adapter::Rocket,
    crate::support::Backend::Postgres
);
all_scenarios!(
    axum_mysql,
    crate::support::Adapter::Axum,
    crate::support::Backend::MySql
);
all_scenarios!(
    actix_mysql,
    crate::support::Adapter::Actix,
    crate::support::Backend::MySql
);
all_scenarios!(
    rocket_mysql,
    crate::support::Adapter::Rocket,
    crate::support::Backend::MySql
);

/// Social login, per adapter and backend, each scenario with its own provider servers.
macro_rules! social_tests {
    ($module:ident, $adapter:expr, $backend:expr) => {
        mod $module {
            social_tests!(@each $adapter, $backend, [
                a_new_account_then_the_same_account_again,
                the_start_is_checked,
                github_uses_the_primary_verified_address_only,
                linking_needs_both_sides_to_vouch,
                the_state_is_this_browsers_and_single_use,
                id_tokens_are_verified,
                banned_accounts_are_refused,
                admins_see_the_linked_providers,
            ]);
        }
    };
    (@each $adapter:expr, $backend:expr, [$($scenario:ident),* $(,)?]) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                let Some(fixture) = crate::social::Fixture::start($adapter, $backend).await else {
                    return;
                };
                crate::social::$scenario(&fixture).await;
            }
        )*
    };
}

mod social_login {
    social_tests!(
        axum_sqlite,
        crate::support::Adapter::Axum,
        crate::support::Backend::Sqlite
    );
    social_tests!(
        axum_postgres,
        crate::support::Adapter::Axum,
        crate::support::Backend::Postgres
    );
    social_tests!(
        actix_sqlite,
        crate::support::Adapter::Actix,
        crate::support::Backend::Sqlite
    );
    social_tests!(
        actix_postgres,
        crate::support::Adapter::Actix,
        crate::support::Backend::Postgres
    );
    social_tests!(
        rocket_sqlite,
        crate::support::Adapter::Rocket,
        crate::support::Backend::Sqlite
    );
    social_tests!(
        rocket_postgres,
        crate::support::Adapter::Rocket,
        crate::support::Backend::Postgres
    );
}

/// Social login through each example application.
mod social_examples {
    use crate::support::Adapter;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn axum() {
        crate::social::the_examples_sign_in(Adapter::Axum).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn actix() {
        crate::social::the_examples_sign_in(Adapter::Actix).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rocket() {
        crate::social::the_examples_sign_in(Adapter::Rocket).await;
    }
}

/// The example applications, per framework (SQLite): what an outside attacker sees.
macro_rules! example_tests {
    ($($scenario:ident),* $(,)?) => {
        mod example_apps {
            $(
                mod $scenario {
                    use crate::support::Adapter;

                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn axum() {
                        crate::examples::$scenario(Adapter::Axum).await;
                    }

                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn actix() {
                        crate::examples::$scenario(Adapter::Actix).await;
                    }

                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn rocket() {
                        crate::examples::$scenario(Adapter::Rocket).await;
                    }
                }
            )*

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_missing_database_fails_start_up_clearly() {
                crate::examples::a_missing_database_fails_start_up_clearly().await;
            }
        }
    };
}

example_tests!(
    every_path_answers_json,
    oversized_headers_are_refused,
    broken_bodies_are_invalid,
    slow_header_senders_are_closed,
    slow_second_requests_are_closed,
    starts_while_redis_and_mail_are_down,
);

/// The same requests get the same answers from every adapter.
mod identity {
    use crate::support::Backend;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        crate::scenarios::same_answers_in_every_adapter(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        crate::scenarios::same_answers_in_every_adapter(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        crate::scenarios::same_answers_in_every_adapter(Backend::MySql).await;
    }
}

/// The OpenAPI document: one document in every adapter, as mounted and configured.
mod openapi_document {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_same_in_every_adapter() {
        crate::openapi::the_document_is_the_same_in_every_adapter().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn follows_the_mounting_and_the_configuration() {
        crate::openapi::the_document_follows_the_mounting_and_the_configuration().await;
    }
}

/// Route names, where the framework has them.
mod names {
    use crate::support::{Options, TestServer};

    /// Where the suite's host applications mount a route's router.
    fn mount(route: &authx::routes::Route) -> &'static str {
        if route.router == authx::routes::RouterKind::Social {
            "/auth"
        } else {
            "/api/users"
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn actix_url_for() {
        let s = TestServer::start(
            crate::support::Adapter::Actix,
            crate::support::Backend::Sqlite,
            Options::default(),
        )
        .await
        .unwrap();
        let r = s
            .client()
            .send("GET", &format!("{}/urls", s.root), &[], vec![])
            .await;
        let expected: Vec<String> = authx::ROUTES
            .iter()
            .map(|route| format!("{}{}", mount(route), route.path_with(|_| "7".into())))
            .collect();
        assert_eq!(r.body, expected.join(" "));
        assert!(expected.contains(&"/api/users/7/change_username".to_owned()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rocket_route_names() {
        let s = TestServer::start(
            crate::support::Adapter::Rocket,
            crate::support::Backend::Sqlite,
            Options::default(),
        )
        .await
        .unwrap();
        let rocket = rocket::custom(crate::support::quiet_rocket_config())
            .attach(authx::rocket::AuthFairing::new(
                "/api/users",
                s.auth.clone(),
            ))
            .attach(authx::rocket::AuthFairing::social("/auth", s.auth.clone()))
            .ignite()
            .await
            .unwrap();
        for route in authx::ROUTES {
            let mounted: Vec<_> = rocket
                .routes()
                .filter(|r| r.name.as_deref() == Some(route.name))
                .collect();
            assert_eq!(mounted.len(), 1, "{}", route.name);
            assert_eq!(mounted[0].method.as_str(), route.method.as_str());
            assert_eq!(
                mounted[0].uri.to_string(),
                format!("{}{}", mount(route), route.path_with(|p| format!("<{p}>")))
            );
        }
    }
}
