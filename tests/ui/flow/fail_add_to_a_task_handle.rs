//! Only a swarm's handle takes items: adding to a task's handle does not compile.

mod tasks;

use mageflow::Mageflow;
use tasks::*;

#[allow(dead_code)]
async fn add_to_a_task(client: Mageflow) -> mageflow::Result<()> {
    let task = client.create(client.sign(charge)).await?;
    task.add([client.sign(audit)]).await?;
    Ok(())
}

fn main() {}
