namespace Tern.Chat.Hub;

/// <summary>
/// Who is on a connection, established by the web layer from the session cookie during the WebSocket handshake. The
/// hub trusts it: it never sees cookies or passwords.
/// </summary>
/// <param name="AccountId">The account's id in the store.</param>
/// <param name="Username">The username as stored (NFC, with its case).</param>
/// <param name="DisplayName">The display name at the time of connecting.</param>
/// <param name="SessionId">
/// Which sign-in session the connection belongs to (an opaque id, such as the session token's hash), so that signing
/// out on one device closes that device's connections only; null when sessions are not told apart. When set it must be
/// the session's token hash as the <see cref="Storage.IAccountStore"/> keeps it: the hub looks it up from time to time
/// and closes the connection once the session has expired or is gone.
/// </param>
public sealed record ChatIdentity(long AccountId, string Username, string DisplayName, string? SessionId = null);
