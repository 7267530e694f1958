using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tern.Chat.Storage;
using Tern.Chat.Text;

namespace Tern.Chat.Accounts;

/// <summary>
/// Signing up, in and out, and checking sessions, over an <see cref="IAccountStore"/>. Applies the account rules,
/// hashes passwords (<see cref="PasswordHasher"/>), throttles attempts (<see cref="SignInThrottle"/>), and deletes
/// expired sessions every <see cref="AccountOptions.ExpiredSessionSweepInterval"/>. Thread-safe; one per server.
/// </summary>
public sealed class AccountService : IAsyncDisposable
{
    /// <summary>Longest username text looked up at sign-in; anything longer cannot be an account, but is still hashed against.</summary>
    private const int MaxSignInNameLength = 256;

    private readonly IAccountStore _store;
    private readonly AccountOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly PasswordHasher _hasher;
    private readonly SignInThrottle _throttle;
    private readonly ITimer _sweepTimer;
    private int _sweeping;
    private int _disposed;

    /// <summary>Creates the service and starts its expired-session sweep.</summary>
    public AccountService(IAccountStore store, AccountOptions? options = null, TimeProvider? time = null, ILogger<AccountService>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _options = options ?? new AccountOptions();
        _options.Validate();
        _time = time ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _hasher = new PasswordHasher(_options.PasswordHashing, _options.MaxConcurrentPasswordHashes);
        _throttle = new SignInThrottle(_options);
        _sweepTimer = _time.CreateTimer(_ => _ = SweepAsync(), null, _options.ExpiredSessionSweepInterval, _options.ExpiredSessionSweepInterval);
    }

    /// <summary>
    /// Raised after sessions were revoked (sign out, or sign out everywhere), so that their open connections can be
    /// closed with 4001. Raised on the signing-out request's thread; handlers should not block.
    /// </summary>
    public event EventHandler<SessionsRevokedEventArgs>? SessionsRevoked;

    /// <summary>The settings in use.</summary>
    public AccountOptions Options => _options;

    /// <summary>The password hasher, for its parameters and rehash checks.</summary>
    public PasswordHasher Hasher => _hasher;

    /// <summary>
    /// Creates an account and signs it in. Checks the throttle for <paramref name="client"/>, then the rules, then
    /// that neither the name nor a look-alike is taken.
    /// </summary>
    /// <param name="username">The chosen name, as typed.</param>
    /// <param name="password">The chosen password.</param>
    /// <param name="displayName">How the name is shown; null or empty for the username itself.</param>
    /// <param name="client">The client's address, for throttling.</param>
    /// <param name="cancellationToken">Cancels the store calls and the wait for a hashing slot.</param>
    public async Task<AccountResult> SignUpAsync(string username, string password, string? displayName, IPAddress client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(password);
        ArgumentNullException.ThrowIfNull(client);
        ThrottleDecision decision = _throttle.TryBeginAttempt(client, usernameKey: null);
        if (!decision.Allowed)
        {
            return AccountResult.Throttled(decision.RetryAfter);
        }

        if (!UsernameRules.TryCreate(username, out Username? name, out UsernameProblem usernameProblem))
        {
            return AccountResult.Refused(AccountOutcome.BadUsername, UsernameRules.Describe(usernameProblem));
        }

        if (!PasswordRules.IsAcceptable(password))
        {
            return AccountResult.Refused(AccountOutcome.BadPassword, PasswordRules.Description);
        }

        string shownName = name.Name;
        if (!string.IsNullOrEmpty(displayName))
        {
            if (!DisplayNameRules.TryNormalize(displayName, out string? normalized, out MessageTextProblem _))
            {
                return AccountResult.Refused(AccountOutcome.BadDisplayName, DisplayNameRules.Description);
            }

            shownName = normalized;
        }

        // Checked before hashing only to spare the work; the store's unique constraints decide (two sign-ups may race).
        if (await _store.FindAccountAsync(name.Key, cancellationToken).ConfigureAwait(false) is not null)
        {
            return Taken(name);
        }

        // Accounts made per address, on top of attempts: twenty attempts a minute would otherwise farm 1,200 accounts an hour.
        ThrottleDecision signUps = _throttle.CheckSignUp(client);
        if (!signUps.Allowed)
        {
            return AccountResult.Throttled(signUps.RetryAfter, "Too many new accounts from your network.");
        }

        string passwordHash = await _hasher.HashAsync(password, cancellationToken).ConfigureAwait(false);
        Account? account = await _store.CreateAccountAsync(
            new NewAccount(name.Name, name.Key, name.Skeleton, shownName, passwordHash, _time.GetUtcNow()), cancellationToken).ConfigureAwait(false);
        if (account is null)
        {
            return Taken(name);
        }

        _throttle.RecordSignUp(client);
        _logger.LogInformation("Account {AccountId} '{Username}' signed up from {Client}", account.Id, account.Username, client);
        return AccountResult.Succeeded(await CreateSessionAsync(account, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// Replaces a hash made with weaker parameters than the current ones: sign-in is the only time the password is at
    /// hand, so raising the cost (after a config change or a new default) reaches each account the next time it signs
    /// in. A failure is logged and the sign-in goes on: the old hash still works, and the next sign-in tries again.
    /// </summary>
    private async Task RehashAsync(Account account, string password, CancellationToken cancellationToken)
    {
        try
        {
            string passwordHash = await _hasher.HashAsync(password, cancellationToken).ConfigureAwait(false);
            await _store.SetPasswordHashAsync(account.Id, passwordHash, cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("Account {AccountId}: password hash renewed with the current parameters", account.Id);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _logger.LogWarning(e, "Account {AccountId}: renewing the password hash failed; the old one stays", account.Id);
        }
    }

    /// <summary>
    /// Signs in with a name and password. An unknown name, an account that cannot sign in and a wrong password all
    /// answer <see cref="AccountOutcome.BadCredentials"/> after the same work (one password hash), and count against
    /// the name's allowance of failures.
    /// </summary>
    public async Task<AccountResult> SignInAsync(string username, string password, IPAddress client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(username);
        ArgumentNullException.ThrowIfNull(password);
        ArgumentNullException.ThrowIfNull(client);
        string key = UsernameRules.KeyOf(username.Length > MaxSignInNameLength ? username[..MaxSignInNameLength] : username);
        ThrottleDecision decision = _throttle.TryBeginAttempt(client, key);
        if (!decision.Allowed)
        {
            return AccountResult.Throttled(decision.RetryAfter);
        }

        Account? account = await _store.FindAccountAsync(key, cancellationToken).ConfigureAwait(false);

        // With no account (or no hash) the hasher does the same work against a random salt, so the time taken does
        // not tell whether the name exists.
        bool verified = await _hasher.VerifyAsync(password, account?.PasswordHash, cancellationToken).ConfigureAwait(false);
        if (!verified || account is null)
        {
            _throttle.RecordFailure(key);
            return AccountResult.Refused(AccountOutcome.BadCredentials, "Wrong username or password.");
        }

        if (_hasher.NeedsRehash(account.PasswordHash))
        {
            await RehashAsync(account, password, cancellationToken).ConfigureAwait(false);
        }

        _logger.LogInformation("Account {AccountId} '{Username}' signed in from {Client}", account.Id, account.Username, client);
        return AccountResult.Succeeded(await CreateSessionAsync(account, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// The account of a session token, or null when the token is malformed, unknown, revoked or expired. Records the
    /// use (moving the expiry) at most once per <see cref="AccountOptions.SessionTouchInterval"/>.
    /// </summary>
    public async Task<SignedInAccount?> ValidateSessionAsync(string? token, CancellationToken cancellationToken = default)
    {
        if (!SessionTokens.IsWellFormed(token))
        {
            return null;
        }

        string tokenHash = SessionTokens.Hash(token!);
        DateTimeOffset now = _time.GetUtcNow();
        AccountSession? found = await _store.FindSessionAsync(tokenHash, now, cancellationToken).ConfigureAwait(false);
        if (found is null)
        {
            return null;
        }

        DateTimeOffset expires = found.Session.Expires;
        if (now - found.Session.LastSeen >= _options.SessionTouchInterval)
        {
            // The stored last-seen time is the rate limit: no per-session state in memory, and several nodes agree.
            expires = now + _options.SessionLifetime;
            await _store.TouchSessionAsync(tokenHash, now, expires, cancellationToken).ConfigureAwait(false);
        }

        return ToSignedIn(found.Account, tokenHash, expires);
    }

    /// <summary>
    /// Signs out: revokes the token's session, or with <paramref name="everywhere"/> every session of its account, and
    /// raises <see cref="SessionsRevoked"/>. A malformed or unknown token does nothing.
    /// </summary>
    /// <returns>The account signed out, or null when the token had no session.</returns>
    public async Task<long?> SignOutAsync(string? token, bool everywhere, CancellationToken cancellationToken = default)
    {
        if (!SessionTokens.IsWellFormed(token))
        {
            return null;
        }

        string tokenHash = SessionTokens.Hash(token!);
        AccountSession? found = await _store.FindSessionAsync(tokenHash, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        if (found is null)
        {
            // Expired (or already gone): delete whatever is left of it, no one to tell.
            await _store.DeleteSessionAsync(tokenHash, cancellationToken).ConfigureAwait(false);
            return null;
        }

        long accountId = found.Account.Id;
        if (everywhere)
        {
            int count = await _store.DeleteSessionsAsync(accountId, cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("Account {AccountId} signed out everywhere ({Count} sessions)", accountId, count);
            RaiseSessionsRevoked(new SessionsRevokedEventArgs(accountId, tokenHash: null));
        }
        else
        {
            await _store.DeleteSessionAsync(tokenHash, cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("Account {AccountId} signed out one session", accountId);
            RaiseSessionsRevoked(new SessionsRevokedEventArgs(accountId, tokenHash));
        }

        return accountId;
    }

    /// <summary>Deletes sessions that have expired; returns how many. Also runs on its own every sweep interval.</summary>
    public Task<int> DeleteExpiredSessionsAsync(CancellationToken cancellationToken = default) =>
        _store.DeleteExpiredSessionsAsync(_time.GetUtcNow(), cancellationToken).AsTask();

    /// <summary>Stops the sweep and releases the hasher and throttle. The store is the caller's.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _sweepTimer.DisposeAsync().ConfigureAwait(false);
        _throttle.Dispose();
        _hasher.Dispose();
    }

    private static AccountResult Taken(Username name) =>
        AccountResult.Refused(AccountOutcome.UsernameTaken, $"The username '{name.Name}', or one that looks the same, is taken; choose another.");

    private static SignedInAccount ToSignedIn(Account account, string tokenHash, DateTimeOffset expires) =>
        new(account.Id, account.Username, account.UsernameKey, account.DisplayName, tokenHash, expires);

    private async Task<NewSession> CreateSessionAsync(Account account, CancellationToken cancellationToken)
    {
        string token = SessionTokens.NewToken();
        string tokenHash = SessionTokens.Hash(token);
        DateTimeOffset now = _time.GetUtcNow();
        DateTimeOffset expires = now + _options.SessionLifetime;
        await _store.CreateSessionAsync(new SessionRecord(tokenHash, account.Id, now, now, expires), cancellationToken).ConfigureAwait(false);
        return new NewSession(token, ToSignedIn(account, tokenHash, expires));
    }

    private void RaiseSessionsRevoked(SessionsRevokedEventArgs args)
    {
        try
        {
            SessionsRevoked?.Invoke(this, args);
        }
        catch (Exception e)
        {
            // The sessions are revoked whatever a listener does; signing out must still answer.
            _logger.LogError(e, "A SessionsRevoked handler failed for account {AccountId}", args.AccountId);
        }
    }

    private async Task SweepAsync()
    {
        if (Interlocked.Exchange(ref _sweeping, 1) != 0 || Volatile.Read(ref _disposed) != 0)
        {
            return; // The previous sweep is still running (a slow disk): skip this one.
        }

        try
        {
            int deleted = await DeleteExpiredSessionsAsync().ConfigureAwait(false);
            if (deleted > 0)
            {
                _logger.LogInformation("Deleted {Count} expired sessions", deleted);
            }
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "Deleting expired sessions failed; will try again in {Interval}", _options.ExpiredSessionSweepInterval);
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }
}
