//! The Auto Scaling calls: find the groups by tag, save their capacity in a
//! tag, scale them to zero, wait until none of their instances runs, and
//! give the capacity back. Through aws-sdk-autoscaling (honours
//! `AWS_ENDPOINT_URL`, which points it at moto in the tests).

use std::fmt;
use std::time::{Duration, Instant};

use aws_sdk_autoscaling::error::DisplayErrorContext;
use aws_sdk_autoscaling::types::{AutoScalingGroup, Filter, Tag};
use aws_sdk_autoscaling::Client;

use super::capacity::{Capacity, SAVED_TAG};
use super::page::{PageDown, PageError, PageUp, Pages};
use crate::props::{Drain, Maintenance};

/// The function's role needs these on the groups.
pub const PERMISSIONS: &str =
    "autoscaling:DescribeAutoScalingGroups, autoscaling:UpdateAutoScalingGroup, autoscaling:CreateOrUpdateTags and autoscaling:DeleteTags";

#[derive(Debug, Clone, thiserror::Error)]
pub enum DrainError {
    #[error("cannot {action}{}: {message}; the function's role needs {PERMISSIONS} on the groups tagged for draining", group.as_ref().map(|g| format!(" (group `{g}`)")).unwrap_or_default())]
    Api {
        action: &'static str,
        group: Option<String>,
        message: String,
    },
    #[error("group `{group}` has tag `{SAVED_TAG}` = `{value}`, which is not a saved capacity; set it to `min=N max=N desired=N` (the capacity to give back) or delete it")]
    BadTag { group: String, value: String },
    #[error("the old instances did not stop within {:.0} s: {} still running ({}). Instances protected from scale-in or in Standby are not stopped by a drain; lower the target group's deregistration delay or give the function more time", waited.as_secs_f64(), running.len(), running.join(", "))]
    Timeout {
        waited: Duration,
        running: Vec<String>,
    },
    #[error("could not give the capacity back to {}", failures.join("; "))]
    Restore {
        restored: Vec<Restored>,
        failures: Vec<String>,
    },
}

/// One group emptied by [`Drainer::drain`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDrain {
    pub name: String,
    /// What it had before schemagate first drained it.
    pub saved: Capacity,
    /// The tag was there already: an earlier run drained it and did not
    /// finish; its recorded capacity is kept.
    pub resumed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drained {
    pub groups: Vec<GroupDrain>,
    pub waited: Duration,
    /// The maintenance page put up before the groups were emptied.
    pub page: Option<Box<PageUp>>,
}

/// Taking the maintenance page down: what it was, `None` when none was
/// up, or why it could not be done.
pub type PageTakenDown = Result<Option<PageDown>, PageError>;

impl Drained {
    /// `web-asg (min 2, max 4, desired 2), worker-asg (…)`
    pub fn names(&self) -> String {
        self.groups
            .iter()
            .map(|g| format!("`{}` ({})", g.name, g.saved))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Drained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.groups.is_empty() {
            return f.write_str("no Auto Scaling group carries the drain tag; nothing to drain");
        }
        write!(
            f,
            "drained {} to 0 in {:.0} s",
            self.names(),
            self.waited.as_secs_f64()
        )
    }
}

/// A group whose capacity was given back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub name: String,
    pub capacity: Capacity,
}

pub fn restored_names(r: &[Restored]) -> String {
    r.iter()
        .map(|g| format!("`{}` ({})", g.name, g.capacity))
        .collect::<Vec<_>>()
        .join(", ")
}

pub struct Drainer {
    client: Client,
    poll_first: Duration,
    poll_max: Duration,
    pages: Option<Pages>,
}

/// Lifecycle states in which no software of the release runs any more.
/// Everything else (Pending, InService, Terminating while the load balancer
/// drains connections, Standby, …) still runs it.
fn stopped(state: &str) -> bool {
    matches!(
        state,
        "Terminated" | "Detached" | "Warmed:Stopped" | "Warmed:Hibernated" | "Warmed:Terminated"
    )
}

fn api(action: &'static str, group: Option<&str>, e: impl std::error::Error) -> DrainError {
    DrainError::Api {
        action,
        group: group.map(str::to_string),
        message: DisplayErrorContext(e).to_string(),
    }
}

impl Drainer {
    pub fn new(client: Client) -> Drainer {
        Drainer {
            client,
            poll_first: Duration::from_secs(2),
            poll_max: Duration::from_secs(15),
            pages: None,
        }
    }

    /// Put maintenance pages up and down with this load balancer client.
    pub fn with_pages(mut self, pages: Pages) -> Drainer {
        self.pages = Some(pages);
        self
    }

    fn pages(&self, listener: &str) -> Result<&Pages, PageError> {
        self.pages.as_ref().ok_or_else(|| PageError::Api {
            action: "reach the load balancer",
            listener: listener.to_string(),
            message: "no Elastic Load Balancing client was configured".into(),
        })
    }

    /// Put the maintenance page up (before [`Drainer::drain`]).
    pub async fn put_page(&self, m: &Maintenance) -> Result<PageUp, PageError> {
        self.pages(&m.listener_arn)?.put(m).await
    }

    /// Take the maintenance page down (the old capacity is back, or the
    /// new groups are in service).
    pub async fn take_page_down(&self, listener: &str) -> PageTakenDown {
        let r = self.pages(listener)?.remove(listener).await;
        if let Err(e) = &r {
            tracing::error!(error = %e, "could not take the maintenance page down");
        }
        r
    }

    /// How often the groups are looked at while they drain (first wait,
    /// doubling up to `max`).
    pub fn with_poll(mut self, first: Duration, max: Duration) -> Drainer {
        self.poll_first = first;
        self.poll_max = max.max(first);
        self
    }

    /// The groups tagged `key=value`.
    pub async fn groups(&self, sel: &Drain) -> Result<Vec<AutoScalingGroup>, DrainError> {
        let filter = Filter::builder()
            .name(format!("tag:{}", sel.tag_key))
            .values(sel.tag_value.clone())
            .build();
        let mut pages = self
            .client
            .describe_auto_scaling_groups()
            .filters(filter)
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(g) = pages.next().await {
            out.push(g.map_err(|e| api("list the Auto Scaling groups", None, e))?);
        }
        // Filters are applied by the service; check again, exactly.
        out.retain(|g| {
            g.tags().iter().any(|t| {
                t.key() == Some(sel.tag_key.as_str()) && t.value() == Some(sel.tag_value.as_str())
            })
        });
        out.sort_by(|a, b| {
            a.auto_scaling_group_name()
                .cmp(&b.auto_scaling_group_name())
        });
        Ok(out)
    }

    async fn by_name(&self, names: &[String]) -> Result<Vec<AutoScalingGroup>, DrainError> {
        let mut pages = self
            .client
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(Some(names.to_vec()))
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(g) = pages.next().await {
            out.push(g.map_err(|e| api("describe the drained groups", None, e))?);
        }
        Ok(out)
    }

    async fn set(&self, name: &str, c: Capacity) -> Result<(), DrainError> {
        self.client
            .update_auto_scaling_group()
            .auto_scaling_group_name(name)
            .min_size(c.min)
            .max_size(c.max)
            .desired_capacity(c.desired)
            .send()
            .await
            .map_err(|e| api("change the capacity", Some(name), e))?;
        Ok(())
    }

    /// Save every tagged group's capacity in its [`SAVED_TAG`] (kept when
    /// already there), set it to 0, and wait until none of its instances
    /// runs, until `deadline`. On error, some groups may be drained: call
    /// [`Drainer::restore`].
    pub async fn drain(&self, sel: &Drain, deadline: Instant) -> Result<Drained, DrainError> {
        let started = Instant::now();
        let groups = self.groups(sel).await?;
        // 1. Record, before changing anything.
        let mut drained = Vec::new();
        for g in &groups {
            drained.push(self.record(g).await?);
        }
        // 2. Empty them.
        for g in &drained {
            self.set(&g.name, Capacity::ZERO).await?;
        }
        // 3. Wait until no old instance runs.
        let names: Vec<String> = drained.iter().map(|g| g.name.clone()).collect();
        self.wait_stopped(&names, started, deadline).await?;
        Ok(Drained {
            groups: drained,
            waited: started.elapsed(),
            page: None,
        })
    }

    /// Keep a group's capacity in its [`SAVED_TAG`]; an earlier run's tag is
    /// kept as it is (the group is already at 0 then).
    async fn record(&self, g: &AutoScalingGroup) -> Result<GroupDrain, DrainError> {
        let name = g.auto_scaling_group_name().unwrap_or_default().to_string();
        let existing = g
            .tags()
            .iter()
            .find(|t| t.key() == Some(SAVED_TAG))
            .and_then(|t| t.value());
        let (saved, resumed) = match existing {
            Some(v) => (
                Capacity::parse(v).ok_or_else(|| DrainError::BadTag {
                    group: name.clone(),
                    value: v.to_string(),
                })?,
                true,
            ),
            None => {
                let c = Capacity {
                    min: g.min_size().unwrap_or(0),
                    max: g.max_size().unwrap_or(0),
                    desired: g.desired_capacity().unwrap_or(0),
                };
                let tag = Tag::builder()
                    .resource_id(&name)
                    .resource_type("auto-scaling-group")
                    .key(SAVED_TAG)
                    .value(c.tag_value())
                    .propagate_at_launch(false)
                    .build();
                self.client
                    .create_or_update_tags()
                    .tags(tag)
                    .send()
                    .await
                    .map_err(|e| api("record the capacity in a tag", Some(&name), e))?;
                (c, false)
            }
        };
        tracing::warn!(group = %name, saved = %saved, resumed, "draining: capacity recorded in tag {SAVED_TAG}");
        Ok(GroupDrain {
            name,
            saved,
            resumed,
        })
    }

    /// Poll, with a growing pause, until no instance of `names` runs, or
    /// the next pause would end after `deadline`.
    async fn wait_stopped(
        &self,
        names: &[String],
        started: Instant,
        deadline: Instant,
    ) -> Result<(), DrainError> {
        let mut delay = self.poll_first;
        while !names.is_empty() {
            let running = self.running(names).await?;
            if running.is_empty() {
                break;
            }
            if Instant::now() + delay > deadline {
                return Err(DrainError::Timeout {
                    waited: started.elapsed(),
                    running,
                });
            }
            tracing::info!(
                running = running.len(),
                wait_ms = delay.as_millis() as u64,
                "waiting for the old instances to stop"
            );
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(self.poll_max);
        }
        Ok(())
    }

    /// `i-0abc in web-asg (InService, protected from scale-in)` for every
    /// instance of `names` that still runs.
    pub async fn running(&self, names: &[String]) -> Result<Vec<String>, DrainError> {
        let mut out = Vec::new();
        for g in self.by_name(names).await? {
            for i in g.instances() {
                let state = i
                    .lifecycle_state()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_else(|| "unknown".into());
                if !stopped(&state) {
                    let protected = if i.protected_from_scale_in() == Some(true) {
                        ", protected from scale-in"
                    } else {
                        ""
                    };
                    out.push(format!(
                        "{} in {} ({state}{protected})",
                        i.instance_id().unwrap_or("?"),
                        g.auto_scaling_group_name().unwrap_or("?")
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Give every tagged group that carries a [`SAVED_TAG`] its capacity
    /// back, then remove the tag (in that order: a run that dies in between
    /// restores again next time).
    pub async fn restore(&self, sel: &Drain) -> Result<Vec<Restored>, DrainError> {
        let groups = self.groups(sel).await?;
        let mut restored = Vec::new();
        let mut failures = Vec::new();
        for g in &groups {
            let name = g.auto_scaling_group_name().unwrap_or_default().to_string();
            let Some(value) = g
                .tags()
                .iter()
                .find(|t| t.key() == Some(SAVED_TAG))
                .and_then(|t| t.value())
            else {
                continue;
            };
            let Some(c) = Capacity::parse(value) else {
                failures.push(
                    DrainError::BadTag {
                        group: name,
                        value: value.to_string(),
                    }
                    .to_string(),
                );
                continue;
            };
            let done = async {
                self.set(&name, c).await?;
                self.client
                    .delete_tags()
                    .tags(
                        Tag::builder()
                            .resource_id(&name)
                            .resource_type("auto-scaling-group")
                            .key(SAVED_TAG)
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| api("remove the saved-capacity tag", Some(&name), e))?;
                Ok::<_, DrainError>(())
            }
            .await;
            match done {
                Ok(()) => {
                    tracing::warn!(group = %name, capacity = %c, "capacity given back");
                    restored.push(Restored { name, capacity: c });
                }
                Err(e) => failures.push(format!("`{name}` ({c}): {e}")),
            }
        }
        if failures.is_empty() {
            Ok(restored)
        } else {
            Err(DrainError::Restore { restored, failures })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_stopped_states_count_as_gone() {
        for s in [
            "Pending",
            "Pending:Wait",
            "InService",
            "Terminating",
            "Terminating:Wait",
            "Standby",
            "EnteringStandby",
            "Warmed:Running",
            "Detaching",
        ] {
            assert!(!stopped(s), "{s}");
        }
        for s in [
            "Terminated",
            "Detached",
            "Warmed:Stopped",
            "Warmed:Hibernated",
        ] {
            assert!(stopped(s), "{s}");
        }
    }

    #[test]
    fn the_summary_names_groups_and_capacities() {
        let d = Drained {
            groups: vec![
                GroupDrain {
                    name: "web".into(),
                    saved: Capacity {
                        min: 2,
                        max: 4,
                        desired: 2,
                    },
                    resumed: false,
                },
                GroupDrain {
                    name: "worker".into(),
                    saved: Capacity {
                        min: 1,
                        max: 1,
                        desired: 1,
                    },
                    resumed: true,
                },
            ],
            waited: Duration::from_secs(42),
            page: None,
        };
        assert_eq!(d.to_string(), "drained `web` (min 2, max 4, desired 2), `worker` (min 1, max 1, desired 1) to 0 in 42 s");
    }
}
