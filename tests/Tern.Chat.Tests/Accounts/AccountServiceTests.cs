using System.Net;
using Tern.Chat.Accounts;
using Tern.Chat.Storage;

namespace Tern.Chat.Tests.Accounts;

public sealed class AccountServiceTests : IAsyncLifetime
{
    private static readonly IPAddress s_client = IPAddress.Parse("192.0.2.10");
    private readonly ManualClock _clock = new();
    private TempDatabase _db = null!;
    private AccountService _accounts = null!;

    public async Task InitializeAsync()
    {
        _db = await TempDatabase.CreateAsync();
        _accounts = new AccountService(_db.Database, TestAccountOptions.Fast(), _clock);
    }

    public async Task DisposeAsync()
    {
        await _accounts.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Fact]
    public async Task Sign_up_creates_the_account_with_a_hash_and_a_working_session()
    {
        AccountResult result = await _accounts.SignUpAsync("Alice", "correct horse", "Alice A.", s_client);

        Assert.Equal(AccountOutcome.Success, result.Outcome);
        NewSession session = result.Session!;
        Assert.Equal("Alice", session.Account.Username);
        Assert.Equal("alice", session.Account.UsernameKey);
        Assert.Equal("Alice A.", session.Account.DisplayName);
        Assert.Equal(SessionTokens.Hash(session.Token), session.Account.TokenHash);
        Assert.Equal(_clock.GetUtcNow() + TimeSpan.FromDays(30), session.Account.SessionExpires);

        Account stored = (await _db.Database.FindAccountAsync("alice"))!;
        Assert.StartsWith("$argon2id$v=19$", stored.PasswordHash, StringComparison.Ordinal);
        Assert.DoesNotContain("correct horse", stored.PasswordHash, StringComparison.Ordinal);
        Assert.Equal(session.Account, await _accounts.ValidateSessionAsync(session.Token));
    }

    [Fact]
    public async Task The_display_name_defaults_to_the_username_and_is_checked()
    {
        Assert.Equal("bob", (await _accounts.SignUpAsync("bob", "password1", null, s_client)).Session!.Account.DisplayName);
        Assert.Equal("Carol", (await _accounts.SignUpAsync("carol", "password1", "  Carol ", s_client)).Session!.Account.DisplayName);
        Assert.Equal(AccountOutcome.BadDisplayName, (await _accounts.SignUpAsync("dave", "password1", "a\u202Eb", s_client)).Outcome);
        Assert.Equal(AccountOutcome.BadDisplayName, (await _accounts.SignUpAsync("dave", "password1", new string('x', 41), s_client)).Outcome);
        Assert.Equal(AccountOutcome.BadDisplayName, (await _accounts.SignUpAsync("dave", "password1", "   ", s_client)).Outcome);
        Assert.Null(await _db.Database.FindAccountAsync("dave"));
    }

    [Fact]
    public async Task Signing_in_replaces_a_hash_made_with_weaker_parameters_by_one_with_the_current_ones()
    {
        var weak = new PasswordHashParameters(4096, 1, 1);
        await using (var before = new AccountService(_db.Database, new AccountOptions { PasswordHashing = weak }, _clock))
        {
            Assert.Equal(AccountOutcome.Success, (await before.SignUpAsync("alice", "correct horse", null, s_client)).Outcome);
        }

        string weakHash = (await _db.Database.FindAccountAsync("alice"))!.PasswordHash!;
        Assert.True(PasswordHashString.TryParse(weakHash, out PasswordHashString? parsed));
        Assert.Equal(weak, parsed.Parameters);

        await using var now = new AccountService(_db.Database, new AccountOptions(), _clock); // OWASP's parameters
        Assert.Equal(AccountOutcome.Success, (await now.SignInAsync("alice", "correct horse", s_client)).Outcome);

        string rehashed = (await _db.Database.FindAccountAsync("alice"))!.PasswordHash!;
        Assert.True(PasswordHashString.TryParse(rehashed, out parsed));
        Assert.Equal(PasswordHashParameters.Owasp, parsed.Parameters);
        Assert.False(now.Hasher.NeedsRehash(rehashed));
        Assert.Equal(AccountOutcome.Success, (await now.SignInAsync("alice", "correct horse", s_client)).Outcome);
        Assert.Equal(rehashed, (await _db.Database.FindAccountAsync("alice"))!.PasswordHash); // once is enough
        Assert.Equal(AccountOutcome.BadCredentials, (await now.SignInAsync("alice", "wrong horse", s_client)).Outcome);
    }

    [Theory]
    [InlineData("x", "password1", AccountOutcome.BadUsername)]
    [InlineData("\u0430lice", "password1", AccountOutcome.BadUsername)] // Cyrillic а: mixed scripts
    [InlineData("alice", "short", AccountOutcome.BadPassword)]
    public async Task Sign_up_refuses_bad_names_and_passwords(string username, string password, AccountOutcome expected)
    {
        AccountResult result = await _accounts.SignUpAsync(username, password, null, s_client);
        Assert.Equal(expected, result.Outcome);
        Assert.False(string.IsNullOrWhiteSpace(result.Problem));
        Assert.Null(result.Session);
    }

    [Theory]
    [InlineData("alice")]
    [InlineData("ALICE")]
    [InlineData("a1ice")] // looks the same
    [InlineData("aIice")]
    [InlineData("\u0430\u04CF\u0456\u0441\u0435")] // all Cyrillic, looks the same
    public async Task A_name_taken_or_looking_like_a_taken_one_is_refused(string lookAlike)
    {
        Assert.Equal(AccountOutcome.Success, (await _accounts.SignUpAsync("alice", "password1", null, s_client)).Outcome);

        AccountResult result = await _accounts.SignUpAsync(lookAlike, "password2", null, s_client);

        Assert.Equal(AccountOutcome.UsernameTaken, result.Outcome);
        Assert.Contains(lookAlike, result.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sign_in_accepts_the_password_in_any_case_of_the_name()
    {
        await _accounts.SignUpAsync("Alice", "password1", null, s_client);

        AccountResult result = await _accounts.SignInAsync("aLiCe", "password1", s_client);

        Assert.Equal(AccountOutcome.Success, result.Outcome);
        Assert.Equal("Alice", result.Session!.Account.Username);
        Assert.NotNull(await _accounts.ValidateSessionAsync(result.Session.Token));
    }

    [Fact]
    public async Task Unknown_names_and_wrong_passwords_answer_alike_after_one_hash_each()
    {
        await _accounts.SignUpAsync("alice", "password1", null, s_client);
        int hashes = 0;
        _accounts.Hasher.OnDeriving = _ => Interlocked.Increment(ref hashes);

        AccountResult wrong = await _accounts.SignInAsync("alice", "password2", s_client);
        Assert.Equal(1, hashes);
        AccountResult unknown = await _accounts.SignInAsync("nobody", "password2", s_client);
        Assert.Equal(2, hashes);

        Assert.Equal(AccountOutcome.BadCredentials, wrong.Outcome);
        Assert.Equal(wrong, unknown);
    }

    [Fact]
    public async Task Accounts_without_a_password_cannot_sign_in()
    {
        await _db.Database.CreateAccountAsync(new NewAccount("legacy", "legacy", "legacy", "legacy", null!, _clock.GetUtcNow()));
        Assert.Equal(AccountOutcome.BadCredentials, (await _accounts.SignInAsync("legacy", "anything1", s_client)).Outcome);
        Assert.Equal(AccountOutcome.BadCredentials, (await _accounts.SignInAsync("legacy", string.Empty, s_client)).Outcome);
    }

    [Fact]
    public async Task Failed_sign_ins_are_throttled_per_name_and_successes_are_not()
    {
        await _accounts.SignUpAsync("alice", "password1", null, s_client);
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal(AccountOutcome.Success, (await _accounts.SignInAsync("alice", "password1", s_client)).Outcome);
        }

        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(AccountOutcome.BadCredentials, (await _accounts.SignInAsync("ALICE", "wrong-password", IPAddress.Parse($"198.51.100.{i}"))).Outcome);
        }

        int hashes = 0;
        _accounts.Hasher.OnDeriving = _ => Interlocked.Increment(ref hashes);
        AccountResult limited = await _accounts.SignInAsync("alice", "password1", s_client);
        Assert.Equal(AccountOutcome.RateLimited, limited.Outcome);
        Assert.InRange(limited.RetryAfter, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(3));
        Assert.Equal(0, hashes); // refused before any work
        Assert.Equal(AccountOutcome.BadCredentials, (await _accounts.SignInAsync("bob", "password1", s_client)).Outcome); // other names go on
    }

    [Fact]
    public async Task Attempts_are_throttled_per_address()
    {
        await using var accounts = new AccountService(_db.Database, new AccountOptions { PasswordHashing = new(64, 1, 1), AddressAttemptLimit = 3 }, _clock);
        Assert.Equal(AccountOutcome.Success, (await accounts.SignUpAsync("alice", "password1", null, s_client)).Outcome);
        Assert.Equal(AccountOutcome.Success, (await accounts.SignInAsync("alice", "password1", s_client)).Outcome);
        Assert.Equal(AccountOutcome.BadCredentials, (await accounts.SignInAsync("bob", "password1", s_client)).Outcome);

        Assert.Equal(AccountOutcome.RateLimited, (await accounts.SignInAsync("alice", "password1", s_client)).Outcome);
        Assert.Equal(AccountOutcome.RateLimited, (await accounts.SignUpAsync("carol", "password1", null, s_client)).Outcome);
        Assert.Equal(AccountOutcome.Success, (await accounts.SignInAsync("alice", "password1", IPAddress.Parse("192.0.2.11"))).Outcome);
    }

    [Fact]
    public async Task Sign_out_revokes_one_session_and_says_which()
    {
        NewSession first = (await _accounts.SignUpAsync("alice", "password1", null, s_client)).Session!;
        NewSession second = (await _accounts.SignInAsync("alice", "password1", s_client)).Session!;
        var revoked = new List<SessionsRevokedEventArgs>();
        _accounts.SessionsRevoked += (_, e) => revoked.Add(e);

        Assert.Equal(first.Account.AccountId, await _accounts.SignOutAsync(first.Token, everywhere: false));

        Assert.Null(await _accounts.ValidateSessionAsync(first.Token));
        Assert.NotNull(await _accounts.ValidateSessionAsync(second.Token));
        SessionsRevokedEventArgs e = Assert.Single(revoked);
        Assert.Equal(first.Account.AccountId, e.AccountId);
        Assert.Equal(first.Account.TokenHash, e.TokenHash);

        Assert.Null(await _accounts.SignOutAsync(first.Token, everywhere: false)); // again: nothing to do
        Assert.Null(await _accounts.SignOutAsync("not-a-token", everywhere: true));
        Assert.Single(revoked);
    }

    [Fact]
    public async Task Sign_out_everywhere_revokes_every_session_of_the_account_only()
    {
        NewSession first = (await _accounts.SignUpAsync("alice", "password1", null, s_client)).Session!;
        NewSession second = (await _accounts.SignInAsync("alice", "password1", s_client)).Session!;
        NewSession bob = (await _accounts.SignUpAsync("bob", "password1", null, s_client)).Session!;
        var revoked = new List<SessionsRevokedEventArgs>();
        _accounts.SessionsRevoked += (_, e) => revoked.Add(e);

        await _accounts.SignOutAsync(second.Token, everywhere: true);

        Assert.Null(await _accounts.ValidateSessionAsync(first.Token));
        Assert.Null(await _accounts.ValidateSessionAsync(second.Token));
        Assert.NotNull(await _accounts.ValidateSessionAsync(bob.Token));
        SessionsRevokedEventArgs e = Assert.Single(revoked);
        Assert.Equal(first.Account.AccountId, e.AccountId);
        Assert.Null(e.TokenHash);
    }

    [Fact]
    public async Task A_failing_revocation_listener_does_not_undo_the_sign_out()
    {
        NewSession session = (await _accounts.SignUpAsync("alice", "password1", null, s_client)).Session!;
        _accounts.SessionsRevoked += (_, _) => throw new InvalidOperationException("listener bug");

        Assert.NotNull(await _accounts.SignOutAsync(session.Token, everywhere: false));
        Assert.Null(await _accounts.ValidateSessionAsync(session.Token));
    }

    [Fact]
    public async Task Sessions_slide_with_use_but_are_written_at_most_once_a_minute()
    {
        NewSession session = (await _accounts.SignUpAsync("alice", "password1", null, s_client)).Session!;
        DateTimeOffset created = _clock.GetUtcNow();

        _clock.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(created + TimeSpan.FromDays(30), (await _accounts.ValidateSessionAsync(session.Token))!.SessionExpires);
        Assert.Equal(created, (await _db.Database.FindSessionAsync(session.Account.TokenHash, _clock.GetUtcNow()))!.Session.LastSeen);

        _clock.Advance(TimeSpan.FromSeconds(31));
        DateTimeOffset now = _clock.GetUtcNow();
        Assert.Equal(now + TimeSpan.FromDays(30), (await _accounts.ValidateSessionAsync(session.Token))!.SessionExpires);
        SessionRecord stored = (await _db.Database.FindSessionAsync(session.Account.TokenHash, now))!.Session;
        Assert.Equal(now, stored.LastSeen);
        Assert.Equal(now + TimeSpan.FromDays(30), stored.Expires);

        // Used within the lifetime, it keeps working past the first expiry…
        _clock.Advance(TimeSpan.FromDays(29));
        Assert.NotNull(await _accounts.ValidateSessionAsync(session.Token));
        _clock.Advance(TimeSpan.FromDays(29));
        Assert.NotNull(await _accounts.ValidateSessionAsync(session.Token));

        // …and ends after a lifetime without use.
        _clock.Advance(TimeSpan.FromDays(30) + TimeSpan.FromSeconds(1));
        Assert.Null(await _accounts.ValidateSessionAsync(session.Token));
    }

    [Fact]
    public async Task Expired_sessions_are_deleted()
    {
        NewSession old = (await _accounts.SignUpAsync("alice", "password1", null, s_client)).Session!;
        _clock.Advance(TimeSpan.FromDays(20));
        NewSession recent = (await _accounts.SignInAsync("alice", "password1", s_client)).Session!;
        _clock.Advance(TimeSpan.FromDays(11));

        Assert.Equal(1, await _accounts.DeleteExpiredSessionsAsync());

        Assert.Null(await _db.Database.FindSessionAsync(old.Account.TokenHash, DateTimeOffset.MinValue));
        Assert.NotNull(await _accounts.ValidateSessionAsync(recent.Token));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("garbage")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] // well-formed, unknown
    public async Task Invalid_tokens_have_no_session(string? token) => Assert.Null(await _accounts.ValidateSessionAsync(token));

    [Fact]
    public async Task The_session_lifetime_is_configurable()
    {
        await using var accounts = new AccountService(_db.Database, new AccountOptions { PasswordHashing = new(64, 1, 1), SessionLifetime = TimeSpan.FromHours(1) }, _clock);
        NewSession session = (await accounts.SignUpAsync("alice", "password1", null, s_client)).Session!;
        Assert.Equal(_clock.GetUtcNow() + TimeSpan.FromHours(1), session.Account.SessionExpires);
        _clock.Advance(TimeSpan.FromHours(1));
        Assert.Null(await accounts.ValidateSessionAsync(session.Token));
    }
}
