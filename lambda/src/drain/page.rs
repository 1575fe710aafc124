//! The maintenance page: while the old release is drained, a listener rule
//! on the app's ALB answers every request with a fixed 503 and the page's
//! HTML, instead of the 502s of an empty target group. Put up before the
//! groups are scaled to 0, taken down when the old capacity is given back
//! (a failure) or by the app stack's resource once the new groups are in
//! service. Through aws-sdk-elasticloadbalancingv2 (moto in the tests).
//!
//! The rule is found again by its tag [`PAGE_TAG`] (value: the epoch
//! second it went up), so a repeated request neither adds a second rule
//! nor leaves one behind, and the Reason can say how long it was up.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_elasticloadbalancingv2::error::DisplayErrorContext;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, PathPatternConditionConfig, Rule,
    RuleCondition, Tag,
};
use aws_sdk_elasticloadbalancingv2::Client;

use crate::props::Maintenance;

/// The tag that marks schemagate's maintenance rule; its value is the
/// epoch second the page went up.
pub const PAGE_TAG: &str = "schemagate:maintenance";

/// The function's role needs these on the listener and its rules.
pub const PAGE_PERMISSIONS: &str = "elasticloadbalancing:DescribeRules, elasticloadbalancing:DescribeTags, elasticloadbalancing:CreateRule, elasticloadbalancing:AddTags and elasticloadbalancing:DeleteRule";

#[derive(Debug, Clone, thiserror::Error)]
pub enum PageError {
    #[error("cannot {action} on listener `{listener}`: {message}; the function's role needs {PAGE_PERMISSIONS} on it")]
    Api {
        action: &'static str,
        listener: String,
        message: String,
    },
    #[error("priority {priority} on listener `{listener}` is held by the app's rule `{rule}`; give the maintenance page a priority no rule of the app uses, lower than theirs (the construct's `maintenancePage.priority`)")]
    PriorityTaken {
        listener: String,
        priority: i32,
        rule: String,
    },
}

/// The page is up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageUp {
    pub listener: String,
    pub rule: String,
    pub priority: i32,
    /// An earlier run put it up; it was kept.
    pub resumed: bool,
    /// Rules of the app evaluated before it (a lower priority): their
    /// requests do not see the page.
    pub before: Vec<i32>,
}

impl fmt::Display for PageUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the maintenance page (503) is up on listener `{}` at priority {}",
            self.listener, self.priority
        )?;
        if !self.before.is_empty() {
            let p: Vec<String> = self.before.iter().map(i32::to_string).collect();
            write!(
                f,
                " (the app's rules at priority {} come first and do not show it)",
                p.join(", ")
            )?;
        }
        Ok(())
    }
}

/// The page was taken down after it had been up `up` (`None`: its tag
/// held no time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageDown {
    pub listener: String,
    pub up: Option<Duration>,
}

impl fmt::Display for PageDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.up {
            Some(up) => write!(
                f,
                "the maintenance page on listener `{}` was up for {} s and is down",
                self.listener,
                up.as_secs()
            ),
            None => write!(
                f,
                "the maintenance page on listener `{}` is down",
                self.listener
            ),
        }
    }
}

pub struct Pages {
    client: Client,
}

fn api(action: &'static str, listener: &str, e: impl std::error::Error) -> PageError {
    PageError::Api {
        action,
        listener: listener.to_string(),
        message: DisplayErrorContext(e).to_string(),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A rule's priority; the default rule has none.
fn priority(r: &Rule) -> Option<i32> {
    r.priority().and_then(|p| p.parse().ok())
}

impl Pages {
    pub fn new(client: Client) -> Pages {
        Pages { client }
    }

    /// Every rule of `listener`, with schemagate's (and when each went up).
    async fn rules(
        &self,
        listener: &str,
    ) -> Result<(Vec<Rule>, Vec<(String, Option<u64>)>), PageError> {
        let mut rules = Vec::new();
        let mut marker = None;
        loop {
            let out = self
                .client
                .describe_rules()
                .listener_arn(listener)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| api("list the rules", listener, e))?;
            rules.extend(out.rules().iter().cloned());
            marker = out.next_marker().map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
        let arns: Vec<String> = rules
            .iter()
            .filter(|r| r.is_default() != Some(true))
            .filter_map(|r| r.rule_arn().map(str::to_string))
            .collect();
        let mut ours = Vec::new();
        for chunk in arns.chunks(20) {
            let out = self
                .client
                .describe_tags()
                .set_resource_arns(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| api("read the rules' tags", listener, e))?;
            for d in out.tag_descriptions() {
                if let Some(t) = d.tags().iter().find(|t| t.key() == Some(PAGE_TAG)) {
                    let since = t.value().and_then(|v| v.parse().ok());
                    ours.push((d.resource_arn().unwrap_or_default().to_string(), since));
                }
            }
        }
        Ok((rules, ours))
    }

    /// Put the page up on `m.listener_arn` (kept when an earlier run put it
    /// up); refused when an app rule holds its priority.
    pub async fn put(&self, m: &Maintenance) -> Result<PageUp, PageError> {
        let listener = m.listener_arn.as_str();
        let (rules, ours) = self.rules(listener).await?;
        let is_ours = |r: &Rule| ours.iter().any(|(a, _)| Some(a.as_str()) == r.rule_arn());
        let before: Vec<i32> = rules
            .iter()
            .filter(|r| !is_ours(r))
            .filter_map(priority)
            .filter(|p| *p < m.priority)
            .collect();
        if let Some(r) = rules.iter().find(|r| is_ours(r)) {
            return Ok(PageUp {
                listener: listener.to_string(),
                rule: r.rule_arn().unwrap_or_default().to_string(),
                priority: priority(r).unwrap_or(m.priority),
                resumed: true,
                before,
            });
        }
        if let Some(r) = rules.iter().find(|r| priority(r) == Some(m.priority)) {
            return Err(PageError::PriorityTaken {
                listener: listener.to_string(),
                priority: m.priority,
                rule: r.rule_arn().unwrap_or("?").to_string(),
            });
        }
        let out = self
            .client
            .create_rule()
            .listener_arn(listener)
            .priority(m.priority)
            .conditions(
                RuleCondition::builder()
                    .field("path-pattern")
                    .path_pattern_config(PathPatternConditionConfig::builder().values("/*").build())
                    .build(),
            )
            .actions(page_action(&m.html))
            .tags(
                Tag::builder()
                    .key(PAGE_TAG)
                    .value(now().to_string())
                    .build(),
            )
            .send()
            .await
            .map_err(|e| api("put the maintenance page up", listener, e))?;
        let rule = out
            .rules()
            .first()
            .and_then(|r| r.rule_arn())
            .unwrap_or_default()
            .to_string();
        tracing::warn!(listener, rule = %rule, priority = m.priority, "maintenance page up");
        Ok(PageUp {
            listener: listener.to_string(),
            rule,
            priority: m.priority,
            resumed: false,
            before,
        })
    }

    /// Take every schemagate maintenance rule off `listener`; `None` when
    /// none was there (a repeated request).
    pub async fn remove(&self, listener: &str) -> Result<Option<PageDown>, PageError> {
        let (_, ours) = self.rules(listener).await?;
        if ours.is_empty() {
            return Ok(None);
        }
        let mut since = None;
        for (arn, s) in &ours {
            self.client
                .delete_rule()
                .rule_arn(arn)
                .send()
                .await
                .map_err(|e| api("take the maintenance page down", listener, e))?;
            since = match (since, *s) {
                (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
                (a, b) => a.or(b),
            };
        }
        let up = since.map(|s| Duration::from_secs(now().saturating_sub(s)));
        tracing::warn!(
            listener,
            up_s = up.map(|d| d.as_secs()),
            "maintenance page down"
        );
        Ok(Some(PageDown {
            listener: listener.to_string(),
            up,
        }))
    }
}

/// The 503 with the page.
fn page_action(html: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            FixedResponseActionConfig::builder()
                .status_code("503")
                .content_type("text/html")
                .message_body(html)
                .build(),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_texts_name_listener_priority_and_time() {
        let up = PageUp {
            listener: "arn:l".into(),
            rule: "arn:r".into(),
            priority: 3,
            resumed: false,
            before: vec![1, 2],
        };
        assert_eq!(up.to_string(), "the maintenance page (503) is up on listener `arn:l` at priority 3 (the app's rules at priority 1, 2 come first and do not show it)");
        let down = PageDown {
            listener: "arn:l".into(),
            up: Some(Duration::from_secs(75)),
        };
        assert_eq!(
            down.to_string(),
            "the maintenance page on listener `arn:l` was up for 75 s and is down"
        );
    }
}
