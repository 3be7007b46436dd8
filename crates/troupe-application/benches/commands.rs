//! Command benchmarks over the in-memory fakes, with 10,000 personalities in the store:
//! parsing alone, parse + execute of `!tz info einstein` through the new system, `info`
//! (pre-parsed) and `list`.
//!
//! Run: `cargo bench -p troupe-application --bench commands -- --warm-up-time 1 --measurement-time 3`
//! The medians (p50) are in `target/criterion/<group>/<bench>/new/estimates.json`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use troupe_application::handlers::NewSystem;
use troupe_application::parser::{Parsed, parse};
use troupe_application::{
    AppConfig, CommandName, CommandOutcome, CommandRequest, CommandSystem, Deps, Invoker, Location,
    OutcomeClass, Permissions, RequestSource,
};
use troupe_domain::personality::{Alias, Personality, PersonalityName, Profile};
use troupe_domain::{ChannelId, GuildId, MessageId, Timestamp, UserId};
use troupe_ports::PersonalityRepository;
use troupe_testkit::{FakeClock, FakePlatform, FakeVolume, InMemoryStore};

const PERSONALITIES: usize = 10_000;
const NOW: Timestamp = Timestamp::from_millis(1_750_000_000_000);

fn user(id: u64) -> UserId {
    UserId::new(id).expect("non-zero")
}

/// The owner of every personality but the 20 of [`FEW_OWNER`].
const MANY_OWNER: u64 = 1;
/// Owns 20 of the 10,000 personalities.
const FEW_OWNER: u64 = 2;

/// A store with 10,000 personalities (two aliases each, `einstein` among them) and the new
/// command system over it.
fn world(rt: &tokio::runtime::Runtime) -> NewSystem {
    let store = Arc::new(InMemoryStore::new());
    rt.block_on(async {
        for i in 0..PERSONALITIES {
            let raw = if i == 0 {
                "einstein".to_owned()
            } else {
                format!("persona {i:05}")
            };
            let name = PersonalityName::parse(&raw).expect("valid name");
            let aliases = vec![
                Alias::parse(&format!("alias {i}")).expect("valid alias"),
                Alias::parse(&format!("p{i}")).expect("valid alias"),
            ];
            let owner = if i % 500 == 1 { FEW_OWNER } else { MANY_OWNER };
            let personality = Personality::restore(
                name.clone(),
                user(owner),
                Profile::local(&name, None),
                aliases,
                NOW,
                NOW,
            );
            store.insert(&personality).await.expect("insert");
        }
    });
    let deps = Deps {
        personalities: store.clone(),
        conversations: store.clone(),
        auth: store.clone(),
        preferences: store.clone(),
        processed: store,
        platform: Arc::new(FakePlatform::new()),
        clock: Arc::new(FakeClock::new(NOW)),
        volume: Arc::new(FakeVolume::new()),
        profiles: None,
        auth_provider: None,
        config: Arc::new(AppConfig::default()),
    };
    NewSystem::new(deps)
}

/// The request a Discord adapter builds around parsed content.
fn request(content: &str, invoker: u64) -> CommandRequest {
    let Parsed::Command {
        command,
        invoked_as,
        args,
    } = parse(content, "!tz")
    else {
        panic!("{content:?} is a command");
    };
    CommandRequest {
        invoker: Invoker {
            id: user(invoker),
            display_name: "bench".into(),
            is_bot_owner: false,
            permissions: Permissions::default(),
            via_proxy: false,
        },
        location: Location::Guild {
            guild: GuildId::new(7).expect("non-zero"),
            channel: ChannelId::new(8).expect("non-zero"),
            age_restricted: true,
            visible_age_restricted: Vec::new(),
        },
        source: RequestSource::Message(MessageId::new(9).expect("non-zero")),
        command,
        invoked_as,
        args,
        received_at: NOW,
    }
}

fn check(outcome: &CommandOutcome, expected: OutcomeClass) {
    assert_eq!(outcome.class, expected, "{outcome:?}");
}

fn commands(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let system = world(&rt);

    // Sanity: each benchmarked command does what it should over this store.
    let info = request("!tz info einstein", MANY_OWNER);
    check(&rt.block_on(system.execute(&info)), OutcomeClass::Success);
    let list_many = request("!tz list", MANY_OWNER);
    let list_many_last = request("!tz list 998", MANY_OWNER);
    let list_few = request("!tz list", FEW_OWNER);
    for r in [&list_many, &list_many_last, &list_few] {
        check(&rt.block_on(system.execute(r)), OutcomeClass::Success);
    }
    assert_eq!(info.command, CommandName::Info);

    let mut group = c.benchmark_group("commands");
    group.bench_function("parse only: !tz add … | prompt", |b| {
        b.iter(|| {
            parse(
                black_box("!tz add einstein \"albert e\" model:gpt-4o | You are Albert Einstein."),
                "!tz",
            )
        });
    });
    group.bench_function("parse + dispatch: !tz info einstein", |b| {
        b.iter(|| {
            let request = request(black_box("!tz info einstein"), MANY_OWNER);
            rt.block_on(system.execute(&request))
        });
    });
    group.bench_function("info einstein (pre-parsed)", |b| {
        b.iter(|| rt.block_on(system.execute(black_box(&info))));
    });
    group.bench_function("list page 1, caller owns 9,980 of 10,000", |b| {
        b.iter(|| rt.block_on(system.execute(black_box(&list_many))));
    });
    group.bench_function("list page 998 (last), caller owns 9,980 of 10,000", |b| {
        b.iter(|| rt.block_on(system.execute(black_box(&list_many_last))));
    });
    group.bench_function("list page 1, caller owns 20 of 10,000", |b| {
        b.iter(|| rt.block_on(system.execute(black_box(&list_few))));
    });
    group.finish();
}

criterion_group!(benches, commands);
criterion_main!(benches);
