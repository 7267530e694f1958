using System.Text;
using Tern.Chat.Accounts;

namespace Tern.Chat.Tests.Accounts;

public sealed class PasswordHasherTests : IDisposable
{
    // Small parameters keep most tests fast; the format and logic do not depend on the cost.
    private static readonly PasswordHashParameters s_cheap = new(64, 1, 1);
    private readonly PasswordHasher _hasher = new(s_cheap);

    public void Dispose() => _hasher.Dispose();

    [Fact]
    public async Task Default_parameters_are_owasps_and_the_string_is_phc()
    {
        using var hasher = new PasswordHasher();
        string hash = await hasher.HashAsync("correct horse battery staple");

        Assert.Matches(@"^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$", hash);
        Assert.True(PasswordHashString.TryParse(hash, out PasswordHashString? parsed));
        Assert.Equal(PasswordHashParameters.Owasp, parsed.Parameters);
        Assert.Equal(16, parsed.Salt.Length);
        Assert.Equal(32, parsed.Hash.Length);
        Assert.True(await hasher.VerifyAsync("correct horse battery staple", hash));
    }

    [Fact]
    public async Task The_hash_never_contains_the_password()
    {
        const string password = "hunter2hunter2";
        string hash = await _hasher.HashAsync(password);

        Assert.DoesNotContain(password, hash, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes(password)).TrimEnd('='), hash, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToHexString(Encoding.UTF8.GetBytes(password)), hash, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Verify_accepts_the_password_and_refuses_others()
    {
        string hash = await _hasher.HashAsync("s3cret-passw0rd");

        Assert.True(await _hasher.VerifyAsync("s3cret-passw0rd", hash));
        Assert.False(await _hasher.VerifyAsync("s3cret-passw0rD", hash));
        Assert.False(await _hasher.VerifyAsync("s3cret-passw0rd ", hash));
        Assert.False(await _hasher.VerifyAsync(string.Empty, hash));
    }

    [Fact]
    public async Task Each_hash_has_its_own_salt()
    {
        string first = await _hasher.HashAsync("same password");
        string second = await _hasher.HashAsync("same password");

        Assert.NotEqual(first, second);
        Assert.True(await _hasher.VerifyAsync("same password", first));
        Assert.True(await _hasher.VerifyAsync("same password", second));
    }

    [Fact]
    public async Task Passwords_are_compared_after_nfkc()
    {
        string hash = await _hasher.HashAsync("caf\u00E9 latte"); // precomposed é
        Assert.True(await _hasher.VerifyAsync("cafe\u0301 latte", hash)); // e + combining acute
    }

    [Fact]
    public async Task Verify_reads_the_parameters_from_the_string()
    {
        // A hash made with other (older) parameters still verifies with a hasher whose defaults changed.
        using var old = new PasswordHasher(new PasswordHashParameters(32, 3, 2));
        string oldHash = await old.HashAsync("old password");
        Assert.Contains("$m=32,t=3,p=2$", oldHash, StringComparison.Ordinal);

        Assert.True(await _hasher.VerifyAsync("old password", oldHash));
        Assert.False(await _hasher.VerifyAsync("new password", oldHash));
    }

    [Fact]
    public void Output_matches_the_argon2_reference_implementation()
    {
        // From the reference C implementation (Debian's argon2 CLI):
        //   echo -n password | argon2 somesalt -id -t 2 -k 64 -p 1 -l 32
        byte[] output = PasswordHasher.Derive("password", Encoding.ASCII.GetBytes("somesalt"), new PasswordHashParameters(64, 2, 1), 32);
        Assert.Equal("16a1a498734609dd01456da406de9f3d9da93e6c86c300a12fc1465214ce4922", Convert.ToHexStringLower(output));
    }

    [Fact]
    public async Task A_hash_made_by_the_reference_implementation_verifies()
    {
        // echo -n "correct horse" | argon2 saltsaltsaltsalt -id -t 2 -k 19456 -p 1 -l 32 -e
        const string reference = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$AdweBLwcflnNX2HVW8i1Mtu7frrn4Ki7h/rYSGuU7Is";
        Assert.True(await _hasher.VerifyAsync("correct horse", reference));
        Assert.False(await _hasher.VerifyAsync("correct horsf", reference));
        using var owasp = new PasswordHasher();
        Assert.False(owasp.NeedsRehash(reference));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("plain text")]
    [InlineData("$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA")] // argon2i, not argon2id
    [InlineData("$argon2id$v=16$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA")] // version 1.0
    [InlineData("$argon2id$v=19$m=64,t=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA")] // no p
    [InlineData("$argon2id$v=19$m=64,t=1,p=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA")] // p twice
    [InlineData("$argon2id$v=19$m=99999999,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA")] // 95 GiB: refused, not attempted
    [InlineData("$argon2id$v=19$m=64,t=0,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ=$AAAAAAAAAAAAAAAAAAAAAA")] // padding is not PHC
    [InlineData("$argon2id$v=19$m=64,t=1,p=1$c2!tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$AAAA")] // 3-byte hash
    [InlineData("$argon2id$v=19$m=+64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA")]
    public async Task Damaged_or_foreign_strings_do_not_parse_and_never_verify(string? stored)
    {
        Assert.False(PasswordHashString.TryParse(stored, out _));
        Assert.False(await _hasher.VerifyAsync("password", stored));
        Assert.True(_hasher.NeedsRehash(stored));
    }

    [Fact]
    public void Parse_and_format_round_trip()
    {
        const string phc = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
        Assert.True(PasswordHashString.TryParse(phc, out PasswordHashString? parsed));
        Assert.Equal(new PasswordHashParameters(19456, 2, 1), parsed.Parameters);
        Assert.Equal("somesaltsomesalt", Encoding.ASCII.GetString(parsed.Salt));
        Assert.Equal(Enumerable.Range(0, 32).Select(i => (byte)i).ToArray(), parsed.Hash.ToArray());
        Assert.Equal(phc, parsed.ToString());
    }

    [Fact]
    public async Task Needs_rehash_when_weaker_than_the_current_parameters()
    {
        using var current = new PasswordHasher(new PasswordHashParameters(128, 2, 1));
        Assert.False(current.NeedsRehash(await current.HashAsync("pw-pw-pw-pw")));
        Assert.True(current.NeedsRehash(await _hasher.HashAsync("pw-pw-pw-pw"))); // m=64,t=1
        using var stronger = new PasswordHasher(new PasswordHashParameters(256, 3, 1));
        Assert.False(current.NeedsRehash(await stronger.HashAsync("pw-pw-pw-pw")));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("$argon2id$v=19$m=99999999,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("")]
    public async Task Verifying_against_no_usable_hash_does_one_hash_of_the_current_cost(string? stored)
    {
        var derived = new List<PasswordHashParameters>();
        _hasher.OnDeriving = parameters => { lock (derived) { derived.Add(parameters); } };

        Assert.False(await _hasher.VerifyAsync("wrong-password", stored));
        Assert.False(await _hasher.VerifyAsync(string.Empty, stored));
        await _hasher.SimulateVerifyAsync("anything-at-all");

        // The same work as a real verification, so the time taken does not tell whether an account exists.
        Assert.Equal([s_cheap, s_cheap, s_cheap], derived);
    }

    [Fact]
    public async Task A_real_verification_does_one_hash_of_the_stored_cost()
    {
        using var other = new PasswordHasher(new PasswordHashParameters(32, 2, 1));
        string stored = await other.HashAsync("password1");
        var derived = new List<PasswordHashParameters>();
        _hasher.OnDeriving = parameters => { lock (derived) { derived.Add(parameters); } };

        Assert.True(await _hasher.VerifyAsync("password1", stored));
        Assert.Equal([new PasswordHashParameters(32, 2, 1)], derived);
    }

    [Fact]
    public async Task At_most_max_concurrency_hashes_run_at_once_each_on_a_thread_outside_the_pool()
    {
        using var hasher = new PasswordHasher(new PasswordHashParameters(1024, 1, 1), maxConcurrency: 2);
        int peak = 0;
        int onPool = 0;
        hasher.OnDeriving = _ =>
        {
            int running = hasher.Running;
            int seen;
            while (running > (seen = Volatile.Read(ref peak)) && Interlocked.CompareExchange(ref peak, running, seen) != seen)
            {
            }

            if (Thread.CurrentThread.IsThreadPoolThread)
            {
                Interlocked.Increment(ref onPool);
            }

            Thread.Sleep(20); // long enough for the others to pile up if nothing held them back
        };

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => hasher.HashAsync("password1")));

        Assert.Equal(2, peak);
        Assert.Equal(0, onPool);
        Assert.Equal(0, hasher.Running);
    }

    [Fact]
    public async Task An_empty_password_never_verifies_and_cannot_be_hashed()
    {
        string hash = await _hasher.HashAsync("not-empty");
        Assert.False(await _hasher.VerifyAsync(string.Empty, hash));
        Assert.False(await _hasher.VerifyAsync(string.Empty, null));
        await Assert.ThrowsAsync<ArgumentException>(() => _hasher.HashAsync(string.Empty));
    }
}
