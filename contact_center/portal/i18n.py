"""The portal's two interface languages: choosing one (switcher cookie, then Accept-Language) and its texts (pure)."""

from __future__ import annotations

__all__ = ["LANGUAGES", "MESSAGES", "choose_language"]

LANGUAGES = ("en", "zh")

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "portal": "Support portal",
        "kb": "Help articles",
        "search": "Search",
        "search_label": "Search the help articles",
        "no_results": "No articles match.",
        "did_you_mean": "Showing results for",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "email": "Email address",
        "send_link": "Email me a sign-in link",
        "link_sent": "If we know this address, a sign-in link is on its way. It works once, for 10 minutes.",
        "or_case": "Or sign in with a case number and a code sent by SMS",
        "case_number": "Case number",
        "send_code": "Text me a code",
        "code": "Code from the SMS",
        "code_sent": "If the case has a phone number, a code is on its way.",
        "link_expired": "This sign-in link has expired. Links work for 10 minutes; ask for a new one.",
        "link_used": "This sign-in link was used already. Each link works once; ask for a new one.",
        "link_unknown": "This sign-in link is not valid. Ask for a new one.",
        "code_bad": "That code is not right, or it expired. Ask for a new one.",
        "my_cases": "My cases",
        "new_case": "New case",
        "no_cases": "You have no cases yet.",
        "status": "Status",
        "subject": "Subject",
        "describe": "Describe the problem",
        "category": "Topic",
        "language": "Language",
        "submit": "Submit",
        "suggestions": "These articles may answer your question:",
        "reply": "Reply",
        "attach": "Attach a file (optional, up to 1.5 MB)",
        "send": "Send",
        "close_case": "Close this case",
        "reopen_case": "Reopen this case",
        "survey": "How satisfied are you with how we handled this case?",
        "survey_thanks": "Thank you for your answer.",
        "comment": "Comment (optional)",
        "helpful": "Was this article helpful?",
        "yes": "Yes",
        "no": "No",
        "thanks": "Thanks for your feedback.",
        "you": "You",
        "support": "Support",
        "back": "Back",
        "not_found": "Not found",
        "status_new": "New",
        "status_open": "Open",
        "status_pending": "Waiting for you",
        "status_on_hold": "On hold",
        "status_resolved": "Resolved",
        "status_closed": "Closed",
        "score_1": "Very unsatisfied",
        "score_2": "Unsatisfied",
        "score_3": "Neutral",
        "score_4": "Satisfied",
        "score_5": "Very satisfied",
    },
    "zh": {
        "portal": "客户服务门户",
        "kb": "帮助文章",
        "search": "搜索",
        "search_label": "搜索帮助文章",
        "no_results": "没有找到相关文章。",
        "did_you_mean": "以下是此搜索的结果:",
        "sign_in": "登录",
        "sign_out": "退出",
        "email": "电子邮箱",
        "send_link": "发送登录链接到我的邮箱",
        "link_sent": "如果该邮箱已登记,登录链接已发送。链接 10 分钟内有效,仅可使用一次。",
        "or_case": "或使用工单号和短信验证码登录",
        "case_number": "工单号",
        "send_code": "发送短信验证码",
        "code": "短信验证码",
        "code_sent": "如果该工单登记了手机号,验证码已发送。",
        "link_expired": "此登录链接已过期。链接 10 分钟内有效,请重新获取。",
        "link_used": "此登录链接已被使用。每个链接只能使用一次,请重新获取。",
        "link_unknown": "此登录链接无效,请重新获取。",
        "code_bad": "验证码不正确或已过期,请重新获取。",
        "my_cases": "我的工单",
        "new_case": "新建工单",
        "no_cases": "您还没有工单。",
        "status": "状态",
        "subject": "主题",
        "describe": "问题描述",
        "category": "类别",
        "language": "语言",
        "submit": "提交",
        "suggestions": "以下文章也许能解答您的问题:",
        "reply": "回复",
        "attach": "添加附件(可选,最大 1.5 MB)",
        "send": "发送",
        "close_case": "关闭此工单",
        "reopen_case": "重新打开此工单",
        "survey": "您对此工单的处理满意吗?",
        "survey_thanks": "感谢您的评价。",
        "comment": "意见(可选)",
        "helpful": "这篇文章对您有帮助吗?",
        "yes": "有帮助",
        "no": "没有帮助",
        "thanks": "感谢您的反馈。",
        "you": "您",
        "support": "客服",
        "back": "返回",
        "not_found": "未找到",
        "status_new": "新建",
        "status_open": "处理中",
        "status_pending": "等待您的回复",
        "status_on_hold": "暂停",
        "status_resolved": "已解决",
        "status_closed": "已关闭",
        "score_1": "非常不满意",
        "score_2": "不满意",
        "score_3": "一般",
        "score_4": "满意",
        "score_5": "非常满意",
    },
}


def choose_language(chosen: str | None, accept_language: str | None) -> str:
    """Return the switcher's choice if valid, else the best Accept-Language match (RFC 9110 §12.5.4), else English."""
    if chosen in LANGUAGES:
        return str(chosen)
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, index, primary))
    return min(ranked)[2] if ranked else "en"
