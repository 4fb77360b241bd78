//! QuickAuth used directly (as the app does) against the built-in in-process sandbox and the real keyring.
//! Run under `scripts/with-keyring.sh`.

use quickauth_core::{
    Error, Localized, NewLingjuProfile, NewYilianyunProfile, Options, ProfileSettings,
    ProfileUpdate, QuickAuth, BUILTIN_SANDBOX_PROFILE,
};
use quickauth_protocol::secret::{ClientSecret, LingjuAppKey, QrKey};
use quickauth_protocol::{ApiVersion, DeviceKey, LingjuEndpoint, MachineCode, Region, UserId};

async fn open() -> (tempfile::TempDir, QuickAuth) {
    let dir = tempfile::tempdir().unwrap();
    let qa = QuickAuth::open(Options::new(dir.path()))
        .await
        .expect("open");
    (dir, qa)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_are_validated_updatable_and_write_only() {
    let (_dir, qa) = open().await;
    let names: Vec<String> = qa
        .list_profiles()
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, vec![BUILTIN_SANDBOX_PROFILE]);
    assert!(
        qa.list_profiles().unwrap()[0].label.contains("沙盒")
            && qa.list_profiles().unwrap()[0].builtin
    );

    let p = qa
        .add_yilianyun_profile(NewYilianyunProfile {
            name: "shop".into(),
            client_id: "1234567".into(),
            region: Region::Overseas,
            api_version: ApiVersion::V1,
            base_url: None,
            client_secret: ClientSecret::new("write-only-secret-1"),
        })
        .unwrap();
    // Nothing that describes a profile carries its secret.
    assert!(
        !format!("{p:?} {}", serde_json::to_string(&p).unwrap()).contains("write-only-secret-1")
    );
    let err = qa
        .add_yilianyun_profile(NewYilianyunProfile {
            name: "bad/name".into(),
            client_id: "1".into(),
            region: Region::Cn,
            api_version: ApiVersion::V2,
            base_url: None,
            client_secret: ClientSecret::new("x-secret"),
        })
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_profile_name");
    // The alternative host serves v2 only: refused when the update would make it v1.
    let err = qa
        .update_profile(
            "shop",
            ProfileUpdate {
                region: Some(Region::CnAlt),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_input", "{err:?}");
    let p = qa
        .update_profile(
            "shop",
            ProfileUpdate {
                region: Some(Region::CnAlt),
                api_version: Some(ApiVersion::V2),
                ..Default::default()
            },
        )
        .unwrap();
    match p.settings {
        ProfileSettings::Yilianyun {
            region,
            api_version,
            ..
        } => assert_eq!((region.as_str(), api_version.as_str()), ("cn-alt", "v2")),
        _ => panic!("wrong provider"),
    }
    let err = qa
        .update_profile(BUILTIN_SANDBOX_PROFILE, ProfileUpdate::default())
        .unwrap_err();
    assert!(matches!(err, Error::BuiltinProfileImmutable { .. }));
    assert!(matches!(
        qa.remove_profile(BUILTIN_SANDBOX_PROFILE),
        Err(Error::BuiltinProfileImmutable { .. })
    ));

    qa.add_lingju_profile(NewLingjuProfile {
        name: "lj".into(),
        endpoint: LingjuEndpoint::BltApi,
        base_url: None,
        appkey: LingjuAppKey::new("lj-appkey-secret"),
        authcode: None,
    })
    .unwrap();
    let err = qa
        .update_profile(
            "lj",
            ProfileUpdate {
                region: Some(Region::Cn),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(matches!(err, Error::WrongProvider { .. }));
    qa.remove_profile("lj").unwrap();
    qa.remove_profile("shop").unwrap();
    assert!(matches!(
        qa.profile("shop"),
        Err(Error::ProfileNotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_sandbox_authorizes_and_ids_disambiguate_by_provider() {
    let (_dir, qa) = open().await;
    let mc = "4004123123";
    let key = quickauth_sandbox::mint_qr_key(mc, chrono::Utc::now().timestamp());
    let d = qa
        .authorize_yilianyun(
            BUILTIN_SANDBOX_PROFILE,
            MachineCode::parse(mc).unwrap(),
            DeviceKey::QrKey(QrKey::new(key)),
        )
        .await
        .unwrap();
    assert_eq!(
        (d.id.as_str(), d.provider.as_str(), d.token_generation),
        (mc, "yilianyun", 1)
    );
    // A Lingju device whose userid is the same digits.
    qa.authorize_lingju(BUILTIN_SANDBOX_PROFILE, UserId::parse(mc).unwrap())
        .await
        .unwrap();
    let err = qa.device(mc).unwrap_err();
    assert_eq!(err.kind(), "ambiguous_id");
    assert!(err.message_en().contains("yilianyun:"));
    assert_eq!(
        qa.device(&format!("lingju:{mc}")).unwrap().provider,
        "lingju"
    );
    assert_eq!(
        qa.device(&format!("yilianyun:{mc}")).unwrap().provider,
        "yilianyun"
    );
    // Revealing is the one way out, and it is recorded (without the values).
    let t = qa.reveal_tokens(&format!("yilianyun:{mc}")).unwrap();
    assert!(!format!("{t:?}").contains(t.access_token.expose()));
    let h = qa.history(10).unwrap();
    assert!(h
        .iter()
        .any(|e| e.action == "reveal_tokens" && e.outcome == "ok"));
    assert!(h.iter().all(|e| e
        .message
        .as_deref()
        .is_none_or(|m| !m.contains(t.access_token.expose()))));
    // Printer calls over the stored token.
    let s = qa.printer_status(&format!("yilianyun:{mc}")).await.unwrap();
    assert_eq!(s.state, "online");
    qa.forget(&format!("yilianyun:{mc}"), true).await.unwrap();
    assert_eq!(qa.device(mc).unwrap().provider, "lingju");
}

/// A user profile that talks to the built-in sandbox with the sandbox's open app (a second "merchant app").
async fn add_profile_on_sandbox(qa: &QuickAuth, name: &str) {
    let base = qa.sandbox().await.unwrap().base_url();
    qa.add_yilianyun_profile(NewYilianyunProfile {
        name: name.into(),
        client_id: quickauth_sandbox::BUILTIN_OPEN_APP_ID.into(),
        client_secret: ClientSecret::new(quickauth_sandbox::BUILTIN_OPEN_APP_SECRET),
        region: Region::Cn,
        api_version: ApiVersion::V2,
        base_url: Some(base),
    })
    .unwrap();
}

async fn authorize_on(qa: &QuickAuth, profile: &str, mc: &str) -> quickauth_core::DeviceSummary {
    let key = quickauth_sandbox::mint_qr_key(mc, chrono::Utc::now().timestamp());
    qa.authorize_yilianyun(
        profile,
        MachineCode::parse(mc).unwrap(),
        DeviceKey::QrKey(QrKey::new(key)),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_printer_under_two_profiles_keeps_two_token_pairs() {
    let (_dir, qa) = open().await;
    add_profile_on_sandbox(&qa, "shop").await;
    let mc = "4004777001";
    let a = authorize_on(&qa, BUILTIN_SANDBOX_PROFILE, mc).await;
    let b = authorize_on(&qa, "shop", mc).await;
    assert_eq!(a.key, format!("yilianyun:sandbox:{mc}"));
    assert_eq!(b.key, format!("yilianyun:shop:{mc}"));
    assert_eq!(
        qa.list_devices().unwrap().len(),
        2,
        "the second grant must not replace the first"
    );

    let err = qa.device(mc).unwrap_err();
    assert_eq!(err.kind(), "ambiguous_id");
    assert!(err.message_en().contains(&b.key), "{}", err.message_en());
    assert_eq!(qa.device(&format!("shop:{mc}")).unwrap().profile, "shop");
    assert_eq!(
        qa.device(&format!("sandbox:{mc}")).unwrap().profile,
        "sandbox"
    );

    let ta = qa.reveal_tokens(&a.key).unwrap();
    let tb = qa.reveal_tokens(&b.key).unwrap();
    assert_ne!(ta.access_token.expose(), tb.access_token.expose());

    // Refreshing one leaves the other pair as it was.
    let r = qa.refresh(&b.key).await.unwrap();
    assert_eq!(r.device.token_generation, 2);
    let ta2 = qa.reveal_tokens(&a.key).unwrap();
    assert_eq!(ta.access_token.expose(), ta2.access_token.expose());
    assert_eq!(qa.device(&a.key).unwrap().token_generation, 1);
    assert_eq!(qa.printer_status(&a.key).await.unwrap().state, "online");

    qa.forget(&a.key, false).await.unwrap();
    assert_eq!(
        qa.device(mc).unwrap().key,
        b.key,
        "only the other profile's device is left"
    );
    assert_eq!(qa.printer_status(mc).await.unwrap().state, "online");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_entries_of_the_old_account_scheme_are_moved_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let mc = "4004777002";
    let (key, access) = {
        let qa = QuickAuth::open(Options::new(dir.path())).await.unwrap();
        let d = authorize_on(&qa, BUILTIN_SANDBOX_PROFILE, mc).await;
        let t = qa.reveal_tokens(&d.key).unwrap();
        (d.key, t.access_token.expose().to_owned())
    };
    // Put the data dir back into the v1 layout: the entry under `device:<provider>:<id>:tokens`.
    let keyring =
        quickauth_vault::Keyring::open(dir.path(), std::time::Duration::from_secs(5)).unwrap();
    let new = quickauth_vault::accounts::device_tokens("yilianyun", "sandbox", mc);
    let old = quickauth_vault::accounts::legacy_device_tokens("yilianyun", mc);
    let json = keyring
        .get(&new)
        .unwrap()
        .expect("entry under the new account");
    keyring.set(&old, &json).unwrap();
    keyring.delete(&new).unwrap();
    let store = quickauth_vault::Store::open(dir.path()).unwrap();
    store.delete_setting("token_accounts").unwrap();
    drop(store);

    let qa = QuickAuth::open(Options::new(dir.path())).await.unwrap();
    assert_eq!(
        qa.reveal_tokens(&key).unwrap().access_token.expose(),
        access
    );
    assert!(
        keyring.get(&new).unwrap().is_some(),
        "moved to the per-profile account"
    );
    assert!(
        keyring.get(&old).unwrap().is_none(),
        "the old entry is gone once the copy is verified"
    );
    // Refresh works on the moved entry.
    assert_eq!(qa.refresh(&key).await.unwrap().device.token_generation, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lingju_reauthorize_is_single_flight_across_instances() {
    use quickauth_protocol::secret::LingjuAuthCode;
    let dir = tempfile::tempdir().unwrap();
    let qa1 = QuickAuth::open(Options::new(dir.path())).await.unwrap();
    let sandbox = qa1.sandbox().await.unwrap();
    qa1.add_lingju_profile(NewLingjuProfile {
        name: "ai".into(),
        endpoint: LingjuEndpoint::HttpApi,
        base_url: Some(sandbox.base_url()),
        appkey: LingjuAppKey::new(quickauth_sandbox::BUILTIN_LINGJU_APPKEY),
        authcode: Some(LingjuAuthCode::new(
            quickauth_sandbox::BUILTIN_LINGJU_AUTHCODE,
        )),
    })
    .unwrap();
    let d = qa1
        .authorize_lingju("ai", UserId::parse("AA:BB:CC:00:11:22").unwrap())
        .await
        .unwrap();
    // A second process on the same data dir (the app and cron).
    let qa2 = QuickAuth::open(Options::new(dir.path())).await.unwrap();
    sandbox.clear_requests();
    sandbox.set_fault(
        quickauth_sandbox::FaultRule::new(quickauth_sandbox::FaultMode::Slow)
            .on_path("/httpapi")
            .delay_ms(400),
    );
    let (a, b) = tokio::join!(qa1.refresh(&d.key), qa2.refresh(&d.key));
    let (a, b) = (a.unwrap(), b.unwrap());
    let sent = sandbox
        .requests(100)
        .into_iter()
        .filter(|r| r.path.starts_with("/httpapi"))
        .count();
    assert_eq!(sent, 1, "one re-authorize for two overlapping refreshes");
    let mut gens = [a.device.token_generation, b.device.token_generation];
    gens.sort();
    assert_eq!(gens, [2, 2]);
    assert_eq!(qa1.device(&d.key).unwrap().token_generation, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_refresh_reply_shows_until_when_the_replay_can_recover_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::new(dir.path());
    opts.backoff = quickauth_core::Backoff::once();
    let qa = QuickAuth::open(opts).await.unwrap();
    let d = authorize_on(&qa, BUILTIN_SANDBOX_PROFILE, "4004777003").await;
    assert_eq!(d.replay_pending_until, None);
    let sandbox = qa.sandbox().await.unwrap();
    sandbox.set_fault(
        quickauth_sandbox::FaultRule::new(quickauth_sandbox::FaultMode::DropReply)
            .on_path("/v2/oauth/oauth")
            .times(1),
    );
    let before = chrono::Utc::now();
    qa.refresh(&d.key).await.unwrap_err();
    let after = chrono::Utc::now();
    let until = qa
        .device(&d.key)
        .unwrap()
        .replay_pending_until
        .expect("pending replay shown");
    assert!(
        until >= before + chrono::Duration::hours(2) && until <= after + chrono::Duration::hours(2),
        "{until} not 2 h after the refresh started"
    );
    assert!(qa.list_devices().unwrap()[0].replay_pending_until.is_some());
    let r = qa.refresh(&d.key).await.unwrap();
    assert_eq!(r.device.token_generation, 2);
    assert_eq!(r.device.replay_pending_until, None);
}
