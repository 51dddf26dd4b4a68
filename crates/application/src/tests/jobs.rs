//! The periodic jobs' pass, over an in-memory schedule: a due job runs once, under a claim
//! that keeps every other runner off it, and is due again one interval after it ends.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use domain::RepositoryError;
use uuid::Uuid;

use super::*;
use crate::jobs::{JobSchedule, PeriodicJob, PeriodicWork, RunPeriodicJobs};

/// A job's row: when it is due, and who holds it until when.
#[derive(Debug, Clone, Default)]
struct Row {
    next: Option<DateTime<Utc>>,
    held: Option<(Uuid, DateTime<Utc>)>,
}

#[derive(Default)]
struct Schedule {
    rows: Mutex<HashMap<String, Row>>,
    finished: Mutex<Vec<(String, DateTime<Utc>)>>,
}

#[async_trait]
impl JobSchedule for Schedule {
    async fn claim(
        &self,
        name: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        claim: Uuid,
    ) -> Result<bool, RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        let row = rows.entry(name.to_owned()).or_default();
        let due = row.next.is_none_or(|next| next <= now);
        let free = row.held.is_none_or(|(_, until)| until < now);
        if due && free {
            row.held = Some((claim, until));
        }
        Ok(due && free)
    }

    async fn finish(
        &self,
        name: &str,
        claim: Uuid,
        next: DateTime<Utc>,
    ) -> Result<bool, RepositoryError> {
        let mut rows = self.rows.lock().unwrap();
        let row = rows.entry(name.to_owned()).or_default();
        if row.held.map(|(c, _)| c) != Some(claim) {
            return Ok(false);
        }
        *row = Row {
            next: Some(next),
            held: None,
        };
        self.finished.lock().unwrap().push((name.to_owned(), next));
        Ok(true)
    }
}

/// Counts its runs; fails when told to, or never ends.
#[derive(Default)]
struct Work {
    runs: AtomicUsize,
    fails: bool,
    hangs: bool,
}

#[async_trait]
impl PeriodicWork for Work {
    async fn run(&self, _: DateTime<Utc>) -> Result<u64, RepositoryError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        if self.hangs {
            std::future::pending::<()>().await;
        }
        if self.fails {
            return Err(RepositoryError::Unavailable("down".into()));
        }
        Ok(3)
    }
}

fn runner(schedule: Arc<Schedule>, work: Arc<Work>) -> RunPeriodicJobs {
    RunPeriodicJobs {
        schedule,
        clock: clock(),
        timer: Arc::new(|d| Box::pin(tokio::time::sleep(d))),
        jobs: vec![PeriodicJob {
            name: "sweep",
            every: Duration::from_secs(600),
            work,
        }],
        lease: Duration::from_secs(300),
    }
}

#[tokio::test]
async fn a_due_job_runs_once_and_is_due_again_one_interval_later() {
    let schedule = Arc::new(Schedule::default());
    let work = Arc::new(Work::default());
    let run = runner(schedule.clone(), work.clone());
    assert_eq!(run.run_once().await.unwrap(), 1);
    assert_eq!(work.runs.load(Ordering::SeqCst), 1);
    assert_eq!(
        *schedule.finished.lock().unwrap(),
        [("sweep".to_owned(), now() + TimeDelta::seconds(600))]
    );
    // Not due again yet: the next pass does nothing.
    assert_eq!(run.run_once().await.unwrap(), 0);
    assert_eq!(work.runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_job_another_runner_holds_is_left_to_it() {
    let schedule = Arc::new(Schedule::default());
    let other = Uuid::now_v7();
    schedule.rows.lock().unwrap().insert(
        "sweep".into(),
        Row {
            next: None,
            held: Some((other, now() + TimeDelta::seconds(1))),
        },
    );
    let work = Arc::new(Work::default());
    assert_eq!(
        runner(schedule.clone(), work.clone())
            .run_once()
            .await
            .unwrap(),
        0
    );
    assert_eq!(work.runs.load(Ordering::SeqCst), 0);
    assert!(schedule.finished.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_run_is_due_again_one_interval_later_and_the_pass_goes_on() {
    let schedule = Arc::new(Schedule::default());
    let work = Arc::new(Work {
        fails: true,
        ..Default::default()
    });
    let run = RunPeriodicJobs {
        jobs: vec![
            PeriodicJob {
                name: "first",
                every: Duration::from_secs(60),
                work: work.clone(),
            },
            PeriodicJob {
                name: "second",
                every: Duration::from_secs(120),
                work: work.clone(),
            },
        ],
        ..runner(schedule.clone(), work.clone())
    };
    assert_eq!(run.run_once().await.unwrap(), 2);
    assert_eq!(work.runs.load(Ordering::SeqCst), 2);
    assert_eq!(
        *schedule.finished.lock().unwrap(),
        [
            ("first".to_owned(), now() + TimeDelta::seconds(60)),
            ("second".to_owned(), now() + TimeDelta::seconds(120)),
        ]
    );
}

#[tokio::test]
async fn a_run_longer_than_its_lease_is_cut_off_and_the_job_released() {
    let schedule = Arc::new(Schedule::default());
    let work = Arc::new(Work {
        hangs: true,
        ..Default::default()
    });
    let run = RunPeriodicJobs {
        lease: Duration::from_millis(50),
        ..runner(schedule.clone(), work.clone())
    };
    assert_eq!(run.run_once().await.unwrap(), 1);
    assert_eq!(schedule.finished.lock().unwrap().len(), 1);
    assert_eq!(schedule.rows.lock().unwrap()["sweep"].held, None);
}

#[tokio::test]
async fn the_claim_leases_the_job_for_the_lease_only() {
    let schedule = Arc::new(Schedule::default());
    let work = Arc::new(Work {
        hangs: true,
        ..Default::default()
    });
    // The work never ends: look at the claim while it runs.
    let run = RunPeriodicJobs {
        lease: Duration::from_millis(100),
        ..runner(schedule.clone(), work)
    };
    let pass = tokio::spawn(async move { run.run_once().await });
    tokio::time::sleep(Duration::from_millis(30)).await;
    let held = schedule.rows.lock().unwrap()["sweep"].held;
    let (_, until) = held.expect("the job is held while it runs");
    assert_eq!(until, now() + TimeDelta::milliseconds(100));
    pass.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_lease_taken_over_meanwhile_does_not_fail_the_pass() {
    let schedule = Arc::new(Schedule::default());
    struct Steals(Arc<Schedule>);
    #[async_trait]
    impl PeriodicWork for Steals {
        async fn run(&self, _: DateTime<Utc>) -> Result<u64, RepositoryError> {
            let mut rows = self.0.rows.lock().unwrap();
            rows.get_mut("sweep").unwrap().held = Some((Uuid::now_v7(), now()));
            Ok(0)
        }
    }
    let run = RunPeriodicJobs {
        jobs: vec![PeriodicJob {
            name: "sweep",
            every: Duration::from_secs(1),
            work: Arc::new(Steals(schedule.clone())),
        }],
        ..runner(schedule.clone(), Arc::default())
    };
    assert_eq!(run.run_once().await.unwrap(), 1);
    assert!(schedule.finished.lock().unwrap().is_empty());
}
