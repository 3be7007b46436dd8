//! An in-process [`AiChat`] with scripted answers, for scenario tests and benchmarks that do
//! not need HTTP.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use troupe_domain::Duration;
use troupe_ports::{AiChat, AiError, ChatRequest, ChatRole};

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One scripted result of [`ScriptedAi`].
#[derive(Debug, Clone)]
pub enum Scripted {
    /// Answer this text.
    Answer(String),
    /// Fail with this error.
    Fail(AiError),
    /// Wait, then give the inner result.
    After(Duration, Box<Scripted>),
}

impl Scripted {
    /// An answer.
    pub fn answer(text: impl Into<String>) -> Self {
        Self::Answer(text.into())
    }
}

/// An [`AiChat`] that plays scripted results in order, then echoes (`echo: <last user
/// message>`), and records every request.
#[derive(Debug, Default)]
pub struct ScriptedAi {
    script: Mutex<VecDeque<Scripted>>,
    requests: Mutex<Vec<ChatRequest>>,
}

impl ScriptedAi {
    /// An AI that only echoes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a result.
    pub fn push(&self, step: Scripted) {
        lock(&self.script).push_back(step);
    }

    /// Queues an answer.
    pub fn push_answer(&self, text: impl Into<String>) {
        self.push(Scripted::answer(text));
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<ChatRequest> {
        lock(&self.requests).clone()
    }

    /// Number of requests received.
    pub fn request_count(&self) -> usize {
        lock(&self.requests).len()
    }
}

#[async_trait]
impl AiChat for ScriptedAi {
    async fn complete(&self, request: ChatRequest) -> Result<String, AiError> {
        let last = request
            .messages
            .iter()
            .rev()
            .find(|m| m.role == ChatRole::User)
            .map(|m| m.content.clone())
            .unwrap_or_default();
        lock(&self.requests).push(request);
        let mut step = lock(&self.script)
            .pop_front()
            .unwrap_or_else(|| Scripted::Answer(format!("echo: {last}")));
        loop {
            match step {
                Scripted::Answer(text) if text.trim().is_empty() => {
                    return Err(AiError::EmptyAnswer);
                }
                Scripted::Answer(text) => return Ok(text),
                Scripted::Fail(error) => return Err(error),
                Scripted::After(wait, next) => {
                    tokio::time::sleep(wait).await;
                    step = *next;
                }
            }
        }
    }
}
