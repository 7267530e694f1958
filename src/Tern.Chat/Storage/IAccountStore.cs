namespace Tern.Chat.Storage;

/// <summary>
/// Accounts and their sign-in sessions. Names arrive here already checked and normalized by the account rules; the
/// store only enforces uniqueness (of the name's key and of its look-alike skeleton) atomically, so that two sign-ups
/// racing for one name cannot both succeed. Safe to call from several threads.
/// </summary>
public interface IAccountStore
{
    /// <summary>
    /// Creates an account, or returns null when another account already has the same <see cref="NewAccount.UsernameKey"/>
    /// or the same <see cref="NewAccount.Skeleton"/> (a name that would pass for an existing one).
    /// </summary>
    ValueTask<Account?> CreateAccountAsync(NewAccount account, CancellationToken cancellationToken = default);

    /// <summary>The account with this normalized name key, or null.</summary>
    ValueTask<Account?> FindAccountAsync(string usernameKey, CancellationToken cancellationToken = default);

    /// <summary>The account with this id, or null.</summary>
    ValueTask<Account?> GetAccountAsync(long accountId, CancellationToken cancellationToken = default);

    /// <summary>Changes how the account's name is shown (never the name itself).</summary>
    ValueTask SetDisplayNameAsync(long accountId, string displayName, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces the account's password hash (a PHC string, never the password), as when a sign-in finds it made with
    /// weaker parameters than the current ones and hashes the password again. Nothing happens when there is no such
    /// account. Sessions are left alone: the password is the same.
    /// </summary>
    ValueTask SetPasswordHashAsync(long accountId, string passwordHash, CancellationToken cancellationToken = default);

    /// <summary>Stores a new session. Only the token's hash is stored, never the token.</summary>
    ValueTask CreateSessionAsync(SessionRecord session, CancellationToken cancellationToken = default);

    /// <summary>The session with this token hash and its account, or null when there is none or it expired at <paramref name="now"/>.</summary>
    ValueTask<AccountSession?> FindSessionAsync(string tokenHash, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Records use of a session and moves its expiry (sliding expiration).</summary>
    ValueTask TouchSessionAsync(string tokenHash, DateTimeOffset lastSeen, DateTimeOffset expires, CancellationToken cancellationToken = default);

    /// <summary>Revokes one session (sign out on this device). False when it did not exist.</summary>
    ValueTask<bool> DeleteSessionAsync(string tokenHash, CancellationToken cancellationToken = default);

    /// <summary>Revokes every session of an account (sign out everywhere); returns how many there were.</summary>
    ValueTask<int> DeleteSessionsAsync(long accountId, CancellationToken cancellationToken = default);

    /// <summary>Removes sessions that expired before <paramref name="now"/>; returns how many.</summary>
    ValueTask<int> DeleteExpiredSessionsAsync(DateTimeOffset now, CancellationToken cancellationToken = default);
}

/// <summary>An account about to be created.</summary>
/// <param name="Username">The name as chosen (NFC), shown with its case.</param>
/// <param name="UsernameKey">The name's unique key: NFC, lower-cased (invariant).</param>
/// <param name="Skeleton">The name reduced to how it looks (confusable letters folded), unique too.</param>
/// <param name="DisplayName">How the name is shown; defaults to the username.</param>
/// <param name="PasswordHash">The password's KDF output in PHC string format; never the password.</param>
/// <param name="Created">When.</param>
public sealed record NewAccount(string Username, string UsernameKey, string Skeleton, string DisplayName, string PasswordHash, DateTimeOffset Created);

/// <summary>A stored account.</summary>
/// <param name="Id">Assigned by the store.</param>
/// <param name="Username">The name as chosen (NFC).</param>
/// <param name="UsernameKey">NFC, lower-cased: what sign-in and mentions match.</param>
/// <param name="DisplayName">How the name is shown.</param>
/// <param name="PasswordHash">PHC string; null for accounts that cannot sign in (authors migrated from the nickname era).</param>
/// <param name="Created">When.</param>
public sealed record Account(long Id, string Username, string UsernameKey, string DisplayName, string? PasswordHash, DateTimeOffset Created);

/// <summary>A sign-in session as stored.</summary>
/// <param name="TokenHash">SHA-256 of the token, lower-case hex. The token itself lives only in the browser's cookie.</param>
/// <param name="AccountId">Whose session.</param>
/// <param name="Created">When the person signed in.</param>
/// <param name="LastSeen">When the session was last used.</param>
/// <param name="Expires">When it stops working unless used again.</param>
public sealed record SessionRecord(string TokenHash, long AccountId, DateTimeOffset Created, DateTimeOffset LastSeen, DateTimeOffset Expires);

/// <summary>A live session with its account.</summary>
public sealed record AccountSession(Account Account, SessionRecord Session);
