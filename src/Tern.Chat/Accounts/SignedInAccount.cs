namespace Tern.Chat.Accounts;

/// <summary>
/// Who is behind a request or a connection: the account of a valid session. Put into
/// <see cref="Tern.WebSocketHandshakeContext.Items"/> (and so <see cref="Tern.WebSocketConnection.Items"/>) under
/// <see cref="ItemsKey"/> by the handshake check.
/// </summary>
/// <param name="AccountId">The account's id.</param>
/// <param name="Username">The name as chosen (NFC).</param>
/// <param name="UsernameKey">The name's key (NFC, lower-cased).</param>
/// <param name="DisplayName">How the name is shown, as of sign-in or the session check.</param>
/// <param name="TokenHash">The session's token hash: identifies the session (to close its sockets when it is revoked) without being the token.</param>
/// <param name="SessionExpires">When the session ends unless used again.</param>
public sealed record SignedInAccount(long AccountId, string Username, string UsernameKey, string DisplayName, string TokenHash, DateTimeOffset SessionExpires)
{
    /// <summary>The key under which the handshake check stores the account in a connection's items.</summary>
    public const string ItemsKey = "Tern.Chat.Account";

    /// <summary>The account stored in a connection's items, or null.</summary>
    public static SignedInAccount? From(IDictionary<string, object?> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        return items.TryGetValue(ItemsKey, out object? value) ? value as SignedInAccount : null;
    }
}

/// <summary>A session just created by a sign-up or sign-in: the token for the cookie, and whose it is.</summary>
/// <param name="Token">The token to hand to the browser (only here; the store has its hash).</param>
/// <param name="Account">The signed-in account.</param>
public sealed record NewSession(string Token, SignedInAccount Account);

/// <summary>Sessions were revoked; their connections should close with 4001.</summary>
public sealed class SessionsRevokedEventArgs : EventArgs
{
    /// <summary>Creates the arguments.</summary>
    public SessionsRevokedEventArgs(long accountId, string? tokenHash)
    {
        AccountId = accountId;
        TokenHash = tokenHash;
    }

    /// <summary>Whose sessions.</summary>
    public long AccountId { get; }

    /// <summary>
    /// The one session revoked (compare with <see cref="SignedInAccount.TokenHash"/>), or null when every session of
    /// the account was (sign out everywhere).
    /// </summary>
    public string? TokenHash { get; }
}
