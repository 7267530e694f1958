using static Tern.Chat.Storage.StoreRows;

namespace Tern.Chat.Storage;

/// <summary>
/// Accounts and sign-in sessions, the same SQL for SQLite and PostgreSQL (both read <c>@name</c> parameters, <c>ON
/// CONFLICT DO NOTHING</c> and <c>RETURNING</c>).
/// </summary>
public abstract partial class ChatDatabase
{
    private const string AccountColumns = "a.id, a.username, a.username_key, a.display_name, a.password_hash, a.created";

    /// <inheritdoc/>
    /// <remarks>
    /// The unique constraints decide, inside the insert, so two sign-ups racing for one name (in any process) cannot both win.
    /// </remarks>
    public async ValueTask<Account?> CreateAccountAsync(NewAccount account, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(account);
        long? id = await WriteAsync(t => t.QuerySingleAsync<long?>("""
            INSERT INTO accounts (username, username_key, skeleton, display_name, password_hash, created)
            VALUES (@username, @key, @skeleton, @display, CAST(@hash AS text), @created)
            ON CONFLICT DO NOTHING
            RETURNING id;
            """, r => r.GetInt64(0), cancellationToken,
            ("@username", account.Username), ("@key", account.UsernameKey), ("@skeleton", account.Skeleton),
            ("@display", account.DisplayName), ("@hash", account.PasswordHash), ("@created", ToStored(account.Created))), cancellationToken).ConfigureAwait(false);
        return id is long accountId
            ? new Account(accountId, account.Username, account.UsernameKey, account.DisplayName, account.PasswordHash, FromStored(ToStored(account.Created)))
            : null;
    }

    /// <inheritdoc/>
    public ValueTask<Account?> FindAccountAsync(string usernameKey, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(usernameKey);
        return new(ReadAsync(t => t.QuerySingleAsync($"SELECT {AccountColumns} FROM accounts a WHERE a.username_key = @key;",
            r => ReadAccount(r, 0), cancellationToken, ("@key", usernameKey)), cancellationToken));
    }

    /// <inheritdoc/>
    public ValueTask<Account?> GetAccountAsync(long accountId, CancellationToken cancellationToken = default) =>
        new(ReadAsync(t => t.QuerySingleAsync($"SELECT {AccountColumns} FROM accounts a WHERE a.id = @id;",
            r => ReadAccount(r, 0), cancellationToken, ("@id", accountId)), cancellationToken));

    /// <inheritdoc/>
    public async ValueTask SetDisplayNameAsync(long accountId, string displayName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(displayName);
        await WriteAsync(t => t.ExecuteAsync("UPDATE accounts SET display_name = @display WHERE id = @id;", cancellationToken,
            ("@display", displayName), ("@id", accountId)), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask SetPasswordHashAsync(long accountId, string passwordHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(passwordHash);
        await WriteAsync(t => t.ExecuteAsync("UPDATE accounts SET password_hash = @hash WHERE id = @id;", cancellationToken,
            ("@hash", passwordHash), ("@id", accountId)), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask CreateSessionAsync(SessionRecord session, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(session);
        await WriteAsync(t => t.ExecuteAsync("""
            INSERT INTO sessions (token_hash, account_id, created, last_seen, expires) VALUES (@hash, @account, @created, @seen, @expires);
            """, cancellationToken, ("@hash", session.TokenHash), ("@account", session.AccountId), ("@created", ToStored(session.Created)),
            ("@seen", ToStored(session.LastSeen)), ("@expires", ToStored(session.Expires))), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    /// <remarks>A session has expired at <paramref name="now"/> when its expiry is not later than it.</remarks>
    public ValueTask<AccountSession?> FindSessionAsync(string tokenHash, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenHash);
        return new(ReadAsync(t => t.QuerySingleAsync($"""
            SELECT {AccountColumns}, s.token_hash, s.created, s.last_seen, s.expires
            FROM sessions s JOIN accounts a ON a.id = s.account_id
            WHERE s.token_hash = @hash AND s.expires > @now;
            """, r => new AccountSession(ReadAccount(r, 0),
                new SessionRecord(r.GetString(6), r.GetInt64(0), FromStored(r.GetInt64(7)), FromStored(r.GetInt64(8)), FromStored(r.GetInt64(9)))),
            cancellationToken, ("@hash", tokenHash), ("@now", ToStored(now))), cancellationToken));
    }

    /// <inheritdoc/>
    /// <remarks>A session that already expired at <paramref name="lastSeen"/> stays expired: use cannot revive it.</remarks>
    public async ValueTask TouchSessionAsync(string tokenHash, DateTimeOffset lastSeen, DateTimeOffset expires, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenHash);
        await WriteAsync(t => t.ExecuteAsync("""
            UPDATE sessions SET last_seen = @seen, expires = @expires WHERE token_hash = @hash AND expires > @seen;
            """, cancellationToken, ("@hash", tokenHash), ("@seen", ToStored(lastSeen)), ("@expires", ToStored(expires))), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<bool> DeleteSessionAsync(string tokenHash, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tokenHash);
        return await WriteAsync(t => t.ExecuteAsync("DELETE FROM sessions WHERE token_hash = @hash;", cancellationToken, ("@hash", tokenHash)),
            cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc/>
    public async ValueTask<int> DeleteSessionsAsync(long accountId, CancellationToken cancellationToken = default) =>
        await WriteAsync(t => t.ExecuteAsync("DELETE FROM sessions WHERE account_id = @account;", cancellationToken, ("@account", accountId)),
            cancellationToken).ConfigureAwait(false);

    /// <inheritdoc/>
    /// <remarks>The same rule as <see cref="FindSessionAsync"/>: expired when the expiry is not later than <paramref name="now"/>.</remarks>
    public async ValueTask<int> DeleteExpiredSessionsAsync(DateTimeOffset now, CancellationToken cancellationToken = default) =>
        await WriteAsync(t => t.ExecuteAsync("DELETE FROM sessions WHERE expires <= @now;", cancellationToken, ("@now", ToStored(now))),
            cancellationToken).ConfigureAwait(false);
}
