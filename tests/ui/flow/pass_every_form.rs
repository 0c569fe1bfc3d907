//! Every form of `flow!`, with the types it gives, in a crate that denies warnings.
#![deny(warnings)]

mod tasks;

use mageflow::{Flow, Outcome, flow};
use tasks::*;

fn main() {
    // a sequence; a task by its path
    let _: Flow<Order, u64> = flow!(charge >> audit);
    let _: Flow<Order, u64> = flow!(charge >> tasks::audit);
    let _: Flow<Order, ()> = flow!(charge >> audit >> record);

    // a single task
    let _: Flow<Receipt, u64> = flow!(audit);

    // bound arguments: the output goes to the return-value field, the required field is bound, optional ones may be
    let _: Flow<Order, String> = flow!(charge >> send_email.bind(template = "receipt"));
    let template = String::from("receipt");
    let _: Flow<Order, String> = flow!(charge >> send_email.bind(template = &template, copies = 2, cc = None));
    // at the start of a flow, bound arguments override the input's fields, the return-value field too
    let _: Flow<Order, Receipt> = flow!(charge.bind(cents = 100));
    let receipt = Receipt { order: 7, cents: 100 };
    let _: Flow<Email, String> = flow!(send_email.bind(receipt = receipt, template = "receipt"));

    // a swarm: its output is the tuple of its members' outputs; members are sequences
    let _: Flow<Order, (String, u64)> = flow!(charge >> [send_email.bind(template = "receipt"), audit]);
    let _: Flow<Order, String> = flow!(charge >> [send_email.bind(template = "receipt"), audit] >> summarize);
    let _: Flow<Order, ((), u64)> = flow!(charge >> [audit >> record, audit]);

    // a swarm that tolerates failures: the tuple of its members' outcomes
    let _: Flow<Order, u32> = flow!(
        charge >> [send_email.bind(template = "receipt"), audit; stop_after_failures = 2, max_concurrency = 2] >> tally
    );
    let limit: u32 = 3;
    let _: Flow<Order, (Outcome<u64>,)> = flow!(charge >> [audit; max_concurrency = limit, stop_after_failures = 1]);

    // a swarm that starts a flow, and swarms in swarms
    let _: Flow<Receipt, (u64, ((), u64))> = flow!([audit, [audit >> record, audit]; max_items = 2]);
    let _: Flow<Order, (u64, String)> = flow!([charge >> audit, charge >> send_email.bind(template = "receipt")]);

    // groups
    let _: Flow<Order, ()> = flow!(charge >> (audit >> record));
    let _: Flow<Order, ()> = flow!((charge >> audit) >> record);
    let _: Flow<Order, u64> = flow!((charge) >> audit);

    // flows in braces, and in variables
    let audit_flow: Flow<Receipt, u64> = flow!(audit);
    let _: Flow<Order, ()> = flow!(charge >> { audit_flow } >> record);
    let tail = flow!(audit >> record);
    let _: Flow<Order, ()> = flow!(charge >> tail);
    let _: Flow<Order, Receipt> = flow!({ charge });

    // options: name, callbacks (a sequence each); error callbacks take a failure report
    let _: Flow<Order, u64> = flow!(charge >> audit, name = "billing", on_success = record, on_error = alert);
    let _: Flow<Order, u64> = flow!(
        charge >> audit,
        name = format!("billing-{}", 7),
        on_success = record,
        on_error = page.bind(channel = "#billing") >> { then_nothing() },
    );
    let _: Flow<Order, (String, u64)> =
        flow!(charge >> [send_email.bind(template = "receipt"), audit], on_success = summarize >> { archive_flow() },);

    // every delimiter
    let _: Flow<Order, u64> = flow![charge >> audit];
    let _: Flow<Order, u64> = flow! { charge >> audit };
}

/// Flows built elsewhere, used in braces.
fn then_nothing() -> Flow<(), ()> {
    flow!(nothing)
}

fn archive_flow() -> Flow<String, ()> {
    flow!(archive)
}
