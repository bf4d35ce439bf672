//! The hang-up causes (`releaseCause`) with their Chinese and English texts, and the one
//! pure function that sorts a call record into the neutral categories of the spec notes'
//! "Classifying a record" table.

/// One row of the releaseCause table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cause {
    pub code: u32,
    pub zh: &'static str,
    pub en: &'static str,
}

/// Where the original has two versions of a text, the call-record list's (the newer
/// table) is used: 103 "account not found", 200 "other auth error".
const CAUSES: &[Cause] = &[
    Cause {
        code: 0,
        zh: "未设定",
        en: "unset",
    },
    Cause {
        code: 1,
        zh: "呼叫成功",
        en: "success",
    },
    Cause {
        code: 100,
        zh: "账户过期",
        en: "account expired",
    },
    Cause {
        code: 101,
        zh: "账户被禁用",
        en: "account disabled",
    },
    Cause {
        code: 102,
        zh: "账户并发受限",
        en: "account concurrency limited",
    },
    Cause {
        code: 103,
        zh: "账户不存在",
        en: "account not found",
    },
    Cause {
        code: 200,
        zh: "其他认证错误",
        en: "other auth error",
    },
    Cause {
        code: 201,
        zh: "账户欠费",
        en: "account in arrears",
    },
    Cause {
        code: 202,
        zh: "账户业务受限",
        en: "service restricted",
    },
    Cause {
        code: 300,
        zh: "无路由",
        en: "no route",
    },
    Cause {
        code: 301,
        zh: "无主叫号码",
        en: "no caller number",
    },
    Cause {
        code: 302,
        zh: "黑名单号码",
        en: "blacklisted number",
    },
    Cause {
        code: 303,
        zh: "客户振铃之后收到4xx",
        en: "callee 4xx after ringing",
    },
    Cause {
        code: 304,
        zh: "客户侧回404",
        en: "callee 404",
    },
    Cause {
        code: 305,
        zh: "客户振铃超时408",
        en: "callee ring timeout (408)",
    },
    Cause {
        code: 306,
        zh: "客户忙486",
        en: "callee busy (486)",
    },
    Cause {
        code: 307,
        zh: "坐席振铃之后收到4xx",
        en: "agent 4xx after ringing",
    },
    Cause {
        code: 308,
        zh: "坐席振铃超时408",
        en: "agent ring timeout",
    },
    Cause {
        code: 309,
        zh: "坐席忙486",
        en: "agent busy",
    },
    Cause {
        code: 310,
        zh: "呼叫回了5xx",
        en: "line 5xx",
    },
    Cause {
        code: 311,
        zh: "号码非法",
        en: "invalid number (e.g. international)",
    },
    Cause {
        code: 400,
        zh: "队列超时",
        en: "queue timeout",
    },
    Cause {
        code: 401,
        zh: "呼叫中心异常",
        en: "call-center fault",
    },
    Cause {
        code: 402,
        zh: "非法接入码",
        en: "invalid access code",
    },
    Cause {
        code: 403,
        zh: "did未绑定",
        en: "DID unbound",
    },
    Cause {
        code: 404,
        zh: "呼入ag中继未绑定",
        en: "AG trunk unbound",
    },
    Cause {
        code: 405,
        zh: "分机不存在",
        en: "extension missing",
    },
    Cause {
        code: 406,
        zh: "坐席未做离线绑定",
        en: "agent not bound",
    },
    Cause {
        code: 407,
        zh: "业务并发受限",
        en: "concurrency limited",
    },
    Cause {
        code: 408,
        zh: "坐席不存在",
        en: "agent missing",
    },
    Cause {
        code: 409,
        zh: "被叫超频",
        en: "callee over frequency",
    },
    Cause {
        code: 410,
        zh: "主叫超频",
        en: "caller over frequency",
    },
    Cause {
        code: 411,
        zh: "小号绑定失败",
        en: "virtual-number bind failed",
    },
    Cause {
        code: 412,
        zh: "下发fs命令失败",
        en: "FS command failed",
    },
    Cause {
        code: 413,
        zh: "配置不存在",
        en: "config missing",
    },
    Cause {
        code: 414,
        zh: "入队失败",
        en: "enqueue failed",
    },
    Cause {
        code: 415,
        zh: "桥接上报失败",
        en: "bridge report failed",
    },
    Cause {
        code: 416,
        zh: "二次选路失败",
        en: "re-route failed",
    },
    Cause {
        code: 417,
        zh: "获取远端数据失败",
        en: "remote data failed",
    },
    Cause {
        code: 418,
        zh: "选择主叫号码失败",
        en: "caller selection failed",
    },
    Cause {
        code: 419,
        zh: "呼叫上报失败",
        en: "call report failed",
    },
    Cause {
        code: 420,
        zh: "任务不存在",
        en: "task missing",
    },
    Cause {
        code: 421,
        zh: "任务模式不存在",
        en: "task mode missing",
    },
    Cause {
        code: 422,
        zh: "放音文件不存在",
        en: "audio file missing",
    },
    Cause {
        code: 423,
        zh: "内部事件发送失败",
        en: "internal event failed",
    },
    Cause {
        code: 424,
        zh: "语音导航放音失败",
        en: "IVR playback failed",
    },
    Cause {
        code: 425,
        zh: "设置业务失败",
        en: "set service failed",
    },
    Cause {
        code: 426,
        zh: "号码变换失败",
        en: "number transform failed",
    },
    Cause {
        code: 427,
        zh: "分机不在线",
        en: "extension offline",
    },
    Cause {
        code: 428,
        zh: "被叫号码属于禁拨区域",
        en: "callee in barred area",
    },
    Cause {
        code: 429,
        zh: "业务处于不可用时间段",
        en: "outside service hours",
    },
    Cause {
        code: 430,
        zh: "发送数据库队列失败",
        en: "DB queue failed",
    },
    Cause {
        code: 431,
        zh: "检查scb非法",
        en: "bad SCB",
    },
    Cause {
        code: 432,
        zh: "检查leg非法",
        en: "bad LEG",
    },
    Cause {
        code: 433,
        zh: "语音导航事件匹配失败",
        en: "IVR event match failed",
    },
    Cause {
        code: 434,
        zh: "呼入策略放音失败",
        en: "inbound playback failed",
    },
    Cause {
        code: 435,
        zh: "呼入策略处理失败",
        en: "inbound policy failed",
    },
];

/// The table row for `code`, if the vendor documents it.
pub fn cause(code: u32) -> Option<&'static Cause> {
    CAUSES.iter().find(|c| c.code == code)
}

/// Every documented cause, in table order.
pub fn all_causes() -> &'static [Cause] {
    CAUSES
}

/// The `result` field of a call record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallResult {
    Connected,
    NotConnected,
    NoSuchNumber,
}

impl CallResult {
    pub fn from_wire(text: &str) -> Option<CallResult> {
        match text.trim() {
            "1" => Some(CallResult::Connected),
            "2" => Some(CallResult::NotConnected),
            "3" => Some(CallResult::NoSuchNumber),
            _ => None,
        }
    }
}

/// The facts of a record that decide its category. `connected` is the list's and
/// getOneCdr's `result` ("1" connected, "2" not, "3" number does not exist); pushes have
/// none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecordFacts {
    pub connected: Option<CallResult>,
    pub talk_secs: Option<u64>,
    pub release_cause: Option<u32>,
}

/// What a call record says happened, in the protocol's own terms: one row of the spec
/// notes' classification table each. What a caller then does (an outcome, a retry, a
/// halt) is its own policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallCategory {
    /// The callee answered: `result` "1", or a push's talk time above 0.
    Connected,
    /// The number does not exist: `result` "3", or cause 304 or 311.
    NoSuchNumber,
    /// The number may not be called: blacklisted (302) or in a barred area (428).
    Barred,
    /// The account itself is refused: expired, disabled, unknown, in arrears or
    /// restricted (100, 101, 103, 200, 201, 202).
    AccountLevel { cause: u32 },
    /// Too many calls at once on the account or the service (102, 407).
    Concurrency { cause: u32 },
    /// The callee or the agent was busy (306, 309).
    Busy,
    /// It rang and nobody answered (303, 305, 308), or no cause says otherwise (0, 1 or
    /// none, with no talk time).
    NoAnswer,
    /// The call center refused the call for frequency or time (409, 410, 429).
    Refused(Refusal),
    /// Any other cause: a fault of the line or of the call center.
    Other { cause: u32 },
}

/// Why the call center refused a call without placing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 409: the callee was called too often.
    CalleeFrequency,
    /// 410: the caller number calls too often.
    CallerFrequency,
    /// 429: outside the call center's service hours.
    OutsideServiceHours,
}

impl Refusal {
    /// The releaseCause that says it.
    pub fn cause(self) -> u32 {
        match self {
            Refusal::CalleeFrequency => 409,
            Refusal::CallerFrequency => 410,
            Refusal::OutsideServiceHours => 429,
        }
    }
}

/// Categorizes a call record: `result` (or the push's talk time) first, cause second, the
/// first matching row of the spec notes' table winning.
pub fn categorize(facts: RecordFacts) -> CallCategory {
    use CallCategory::*;
    let talked = facts.talk_secs.unwrap_or(0) > 0;
    match facts.connected {
        Some(CallResult::Connected) => return Connected,
        None if talked => return Connected,
        Some(CallResult::NoSuchNumber) => return NoSuchNumber,
        _ => {}
    }
    match facts.release_cause {
        Some(304 | 311) => NoSuchNumber,
        Some(302 | 428) => Barred,
        Some(cause @ (100 | 101 | 103 | 200 | 201 | 202)) => AccountLevel { cause },
        Some(cause @ (102 | 407)) => Concurrency { cause },
        Some(306 | 309) => Busy,
        Some(303 | 305 | 308 | 0 | 1) | None => NoAnswer,
        Some(409) => Refused(Refusal::CalleeFrequency),
        Some(410) => Refused(Refusal::CallerFrequency),
        Some(429) => Refused(Refusal::OutsideServiceHours),
        Some(cause) => Other { cause },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CallCategory::*;

    fn record(
        connected: Option<CallResult>,
        talk: Option<u64>,
        cause: Option<u32>,
    ) -> CallCategory {
        categorize(RecordFacts {
            connected,
            talk_secs: talk,
            release_cause: cause,
        })
    }

    #[test]
    fn every_code_of_the_table_has_both_texts_once() {
        assert_eq!(CAUSES.len(), 57);
        for (i, c) in CAUSES.iter().enumerate() {
            assert!(!c.zh.is_empty() && !c.en.is_empty(), "{}", c.code);
            assert!(
                CAUSES[i + 1..].iter().all(|d| d.code != c.code),
                "{}",
                c.code
            );
        }
        assert_eq!(cause(306).unwrap().en, "callee busy (486)");
        assert_eq!(cause(999), None);
    }

    #[test]
    fn result_and_talk_time_come_before_the_cause() {
        use CallResult::*;
        // Both samples of the original carry cause 0, answered or not.
        assert_eq!(
            record(Some(Connected), Some(9), Some(0)),
            CallCategory::Connected
        );
        assert_eq!(
            record(Some(Connected), None, Some(302)),
            CallCategory::Connected
        );
        assert_eq!(record(None, Some(12), Some(0)), CallCategory::Connected);
        assert_eq!(
            record(Some(NoSuchNumber), None, Some(0)),
            CallCategory::NoSuchNumber
        );
        assert_eq!(record(Some(NotConnected), Some(0), Some(0)), NoAnswer);
        // A list record's `result` wins over a talk time.
        assert_eq!(record(Some(NotConnected), Some(5), Some(306)), Busy);
    }

    #[test]
    fn every_documented_cause_lands_in_its_row_of_the_table() {
        for c in all_causes() {
            let got = record(Some(CallResult::NotConnected), Some(0), Some(c.code));
            let want = match c.code {
                304 | 311 => NoSuchNumber,
                302 | 428 => Barred,
                100 | 101 | 103 | 200 | 201 | 202 => AccountLevel { cause: c.code },
                102 | 407 => Concurrency { cause: c.code },
                306 | 309 => Busy,
                0 | 1 | 303 | 305 | 308 => NoAnswer,
                409 => Refused(Refusal::CalleeFrequency),
                410 => Refused(Refusal::CallerFrequency),
                429 => Refused(Refusal::OutsideServiceHours),
                _ => Other { cause: c.code },
            };
            assert_eq!(got, want, "cause {}", c.code);
            if let Refused(refusal) = got {
                assert_eq!(refusal.cause(), c.code);
            }
        }
        assert_eq!(record(None, None, None), NoAnswer);
        assert_eq!(record(None, Some(0), Some(999)), Other { cause: 999 });
    }
}
