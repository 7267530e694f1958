namespace Tern.Chat.Accounts;

/// <summary>Settings of <see cref="AccountService"/>: sessions, sign-in throttling and password hashing.</summary>
public sealed class AccountOptions
{
    /// <summary>How long a session lasts without use (sliding: each use moves the end). Default 30 days.</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// Least time between two recordings of a session's use. Default 1 minute: a session used on every request is
    /// written at most once a minute, and its expiry is at most this much earlier than exact sliding would make it.
    /// </summary>
    public TimeSpan SessionTouchInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often expired sessions are deleted from the store. Default 1 hour.</summary>
    public TimeSpan ExpiredSessionSweepInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// Failed sign-ins allowed per account name in <see cref="NameFailureWindow"/> (successful ones are not
    /// counted). Default 5. The allowance refills evenly (one every window/limit, 3 minutes by default), so someone
    /// guessing gets 20 tries an hour, and a person locked out by them waits minutes, not the whole window.
    /// </summary>
    public int NameFailureLimit { get; set; } = 5;

    /// <summary>The window of <see cref="NameFailureLimit"/>. Default 15 minutes.</summary>
    public TimeSpan NameFailureWindow { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// Sign-in and sign-up attempts allowed per client address in <see cref="AddressAttemptWindow"/>, whatever their
    /// outcome. Default 20. IPv6 addresses count per /64, the block one subscriber usually has. The allowance
    /// refills evenly (one every 3 seconds by default).
    /// </summary>
    public int AddressAttemptLimit { get; set; } = 20;

    /// <summary>The window of <see cref="AddressAttemptLimit"/>. Default 1 minute.</summary>
    public TimeSpan AddressAttemptWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Accounts one client address may create in <see cref="SignUpWindow"/> (IPv6 per /64), so that one machine cannot
    /// farm accounts to multiply the per-account limits. Default 5. Only sign-ups that create an account count; the
    /// allowance refills evenly (one every 12 minutes by default). Behind a reverse proxy every client has the proxy's
    /// address unless the proxy is trusted (<see cref="ChatOptions.TrustedProxies"/>), so raise it there otherwise.
    /// </summary>
    public int SignUpLimit { get; set; } = 5;

    /// <summary>The window of <see cref="SignUpLimit"/>. Default 1 hour.</summary>
    public TimeSpan SignUpWindow { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The cost of new password hashes. Default <see cref="PasswordHashParameters.Owasp"/>.</summary>
    public PasswordHashParameters PasswordHashing { get; set; } = PasswordHashParameters.Owasp;

    /// <summary>Most password hashes computed at once (each holds its memory cost while it runs). Default the processor count.</summary>
    public int MaxConcurrentPasswordHashes { get; set; } = Environment.ProcessorCount;

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(SessionLifetime, TimeSpan.Zero, nameof(SessionLifetime));
        ArgumentOutOfRangeException.ThrowIfLessThan(SessionTouchInterval, TimeSpan.Zero, nameof(SessionTouchInterval));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ExpiredSessionSweepInterval, TimeSpan.Zero, nameof(ExpiredSessionSweepInterval));
        ArgumentOutOfRangeException.ThrowIfLessThan(NameFailureLimit, 1, nameof(NameFailureLimit));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(NameFailureWindow, TimeSpan.Zero, nameof(NameFailureWindow));
        ArgumentOutOfRangeException.ThrowIfLessThan(AddressAttemptLimit, 1, nameof(AddressAttemptLimit));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(AddressAttemptWindow, TimeSpan.Zero, nameof(AddressAttemptWindow));
        ArgumentOutOfRangeException.ThrowIfLessThan(SignUpLimit, 1, nameof(SignUpLimit));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(SignUpWindow, TimeSpan.Zero, nameof(SignUpWindow));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrentPasswordHashes, 1, nameof(MaxConcurrentPasswordHashes));
        if (!PasswordHashing.IsWithinBounds)
        {
            throw new ArgumentOutOfRangeException(nameof(PasswordHashing), PasswordHashing, "Argon2 parameters out of bounds.");
        }
    }
}
