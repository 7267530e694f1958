namespace Tern.Chat.Accounts;

/// <summary>How a sign-up or sign-in ended.</summary>
public enum AccountOutcome
{
    /// <summary>Signed up or in; <see cref="AccountResult.Session"/> is set.</summary>
    Success,

    /// <summary>The chosen username breaks a rule; <see cref="AccountResult.Problem"/> says which.</summary>
    BadUsername,

    /// <summary>The chosen password breaks a rule.</summary>
    BadPassword,

    /// <summary>The chosen display name breaks a rule.</summary>
    BadDisplayName,

    /// <summary>The username, or one that looks the same, belongs to another account.</summary>
    UsernameTaken,

    /// <summary>No account with that name and password (either may be the wrong one; which is not said).</summary>
    BadCredentials,

    /// <summary>Too many attempts; <see cref="AccountResult.RetryAfter"/> says when to try again.</summary>
    RateLimited,
}

/// <summary>The result of <see cref="AccountService.SignUpAsync"/> or <see cref="AccountService.SignInAsync"/>.</summary>
/// <param name="Outcome">How it ended.</param>
/// <param name="Session">The new session, on success.</param>
/// <param name="Problem">A sentence for people saying what was wrong, when something was.</param>
/// <param name="RetryAfter">When rate limited, how long to wait.</param>
public sealed record AccountResult(AccountOutcome Outcome, NewSession? Session = null, string? Problem = null, TimeSpan RetryAfter = default)
{
    /// <summary>A success with its session.</summary>
    public static AccountResult Succeeded(NewSession session) => new(AccountOutcome.Success, session);

    /// <summary>A refusal with a sentence for people.</summary>
    public static AccountResult Refused(AccountOutcome outcome, string problem) => new(outcome, Problem: problem);

    /// <summary>Too many attempts, or (with <paramref name="problem"/> saying so) too many of something else.</summary>
    public static AccountResult Throttled(TimeSpan retryAfter, string? problem = null) => new(AccountOutcome.RateLimited, Problem: problem, RetryAfter: retryAfter);
}
