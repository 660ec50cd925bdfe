{ signbridge: one provider-neutral API for electronic-signature providers.
  The C ABI for Free Pascal (3.2+) and Delphi (2009+). SPDX-License-Identifier: Apache-2.0

  This unit mirrors include/signbridge.h, which documents every function; the test script
  (scripts/check-pascal-unit.py) checks that both declare the same functions with the same
  number of parameters, and the same result codes.

  At the boundary every string is UTF-8: pass PAnsiChar(UTF8String(S)), never a PChar or a
  Pascal `string` cast, and read results with SignbridgeTakeString / SignbridgeToString.
  Every external is cdecl, on 32- and 64-bit alike (Delphi's default is `register`, and
  `stdcall` would corrupt the stack on Win32). Free Pascal on Unix: add `cwstring` to the
  program's uses clause so UTF-8 results convert to `string` without loss. }
unit signbridge;

{$IFDEF FPC}
  {$mode delphi}{$H+}{$codepage utf8}
{$ENDIF}

interface

uses
  SysUtils;

const
{$IFDEF MSWINDOWS}
  SignbridgeLib = 'signbridge.dll';
{$ELSE}
  {$IFDEF FPC}
  { Free Pascal links -lsignbridge: libsignbridge.so (or .dylib) from the linker's path. }
  SignbridgeLib = 'signbridge';
  {$ELSE}
  SignbridgeLib = 'libsignbridge.so';
  {$ENDIF}
{$ENDIF}

  { The header's SIGNBRIDGE_ABI_VERSION: the ABI this unit was written for; compare it with
    signbridge_abi_version at start-up. Renamed because Pascal identifiers ignore case, and
    the function already has that name. }
  SIGNBRIDGE_UNIT_ABI_VERSION = 1;

  { Form of the CMS a host signer must produce. }
  SIGNBRIDGE_CMS_ATTACHED = 1;
  SIGNBRIDGE_CMS_DETACHED = 2;

  { Result codes. 1-99: the C ABI's own; the others are signbridge error kinds. }
  SIGNBRIDGE_RESULT_OK = 0;
  SIGNBRIDGE_RESULT_NULL_ARGUMENT = 1;
  SIGNBRIDGE_RESULT_INVALID_UTF8 = 2;
  SIGNBRIDGE_RESULT_INVALID_JSON = 3;
  SIGNBRIDGE_RESULT_PANIC = 4;
  SIGNBRIDGE_RESULT_NO_EVENT = 5;
  SIGNBRIDGE_RESULT_CONFIG = 100;
  SIGNBRIDGE_RESULT_UNSUPPORTED = 101;
  SIGNBRIDGE_RESULT_AUTH = 200;
  SIGNBRIDGE_RESULT_VALIDATION = 300;
  SIGNBRIDGE_RESULT_NOT_FOUND = 301;
  SIGNBRIDGE_RESULT_CONFLICT = 302;
  SIGNBRIDGE_RESULT_RATE_LIMITED = 400;
  SIGNBRIDGE_RESULT_TRANSPORT = 401;
  SIGNBRIDGE_RESULT_TIMEOUT = 402;
  SIGNBRIDGE_RESULT_OUTCOME_UNKNOWN = 403;
  SIGNBRIDGE_RESULT_PROVIDER = 500;
  SIGNBRIDGE_RESULT_JOURNAL = 600;
  SIGNBRIDGE_RESULT_SIGNING = 700;
  SIGNBRIDGE_RESULT_INTERNAL = 900;

type
  { int32_t. Integer and Cardinal are 32 bits in every Delphi and in Free Pascal's Delphi
    mode, on 32- and 64-bit targets alike (unlike LongInt, 64 bits on Delphi for Linux64). }
  TSignbridgeResult = Integer;
  { size_t: 32 bits on Win32, 64 on Win64 and Linux x86_64. }
  TSignbridgeSize = {$IFDEF FPC}SizeUInt{$ELSE}NativeUInt{$ENDIF};

  { Opaque: only ever used through these pointers. }
  TSignbridgeClient = record end;
  PSignbridgeClient = ^TSignbridgeClient;
  TSignbridgeSignReply = record end;
  PSignbridgeSignReply = ^TSignbridgeSignReply;
  TSignbridgeReceiver = record end;
  PSignbridgeReceiver = ^TSignbridgeReceiver;
  TSignbridgeListener = record end;
  PSignbridgeListener = ^TSignbridgeListener;

  { The host signer. Runs on a library thread, never the one that called signbridge (which
    waits meanwhile: do not Synchronize to it); must catch every exception itself. }
  TSignbridgeSignCallback = function(UserData: Pointer; Data: PByte; Len: TSignbridgeSize;
    Form: Integer; DocumentId: PAnsiChar; Reply: PSignbridgeSignReply): TSignbridgeResult; cdecl;

function signbridge_version: PAnsiChar; cdecl; external SignbridgeLib;
function signbridge_abi_version: Cardinal; cdecl; external SignbridgeLib;

function signbridge_client_new(ConfigJson: PAnsiChar;
  out Client: PSignbridgeClient): TSignbridgeResult; cdecl; external SignbridgeLib;
procedure signbridge_client_free(Client: PSignbridgeClient); cdecl; external SignbridgeLib;

function signbridge_send(Client: PSignbridgeClient; EnvelopeJson: PAnsiChar;
  out HandleJson: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_send_with_document(Client: PSignbridgeClient; EnvelopeJson: PAnsiChar;
  Bytes: Pointer; Len: TSignbridgeSize; Name: PAnsiChar;
  out HandleJson: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_status(Client: PSignbridgeClient; Handle: PAnsiChar;
  out StatusJson: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_refresh(Client: PSignbridgeClient; HandlesJson: PAnsiChar;
  out Json: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_download_to_file(Client: PSignbridgeClient; Handle, Kind,
  Path: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_download(Client: PSignbridgeClient; Handle, Kind: PAnsiChar;
  out Bytes: Pointer; out Len: TSignbridgeSize): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_cancel(Client: PSignbridgeClient;
  Handle: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_next_event(Client: PSignbridgeClient; TimeoutMs: Cardinal;
  out EventJson: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_refresh_forced(Client: PSignbridgeClient; HandlesJson: PAnsiChar;
  out Json: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_validate(Client: PSignbridgeClient;
  EnvelopeJson: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_capability(Client: PSignbridgeClient;
  out Json: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
{ Provider may be nil: every provider's record, as a JSON array. }
function signbridge_capabilities(Provider: PAnsiChar;
  out Json: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
{ ArgsJson may be nil: no arguments. }
function signbridge_call(Client: PSignbridgeClient; Name, ArgsJson: PAnsiChar;
  out Json: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
{ Cursor may be nil: from the provider's beginning. }
function signbridge_changes(Client: PSignbridgeClient; Cursor: PAnsiChar;
  out Json: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
{ Since: a stream position ('0': the beginning; events after it) or an RFC 3339 time. }
function signbridge_replay_events(Client: PSignbridgeClient; Since: PAnsiChar; Limit: Cardinal;
  out Json: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_prune_events(Client: PSignbridgeClient; RetentionHours: Cardinal;
  out Count: UInt64): TSignbridgeResult; cdecl; external SignbridgeLib;

{ Exactly once: a new document under a used reference, and settling unknown outcomes. }
function signbridge_send_new_document(Client: PSignbridgeClient; EnvelopeJson: PAnsiChar;
  out HandleJson: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
{ Reference may be nil: every unfinished send of the account (an array). }
function signbridge_reconcile(Client: PSignbridgeClient; Reference: PAnsiChar;
  out Json: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_pending(Client: PSignbridgeClient;
  out Json: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
(* ResolutionJson: '{"sent_as": "<id>"}' or '{"not_sent": true}'. *)
function signbridge_resolve(Client: PSignbridgeClient; Reference: PAnsiChar;
  ResolutionJson: PAnsiChar; out Json: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_budget(Client: PSignbridgeClient;
  out Json: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;

function signbridge_last_error_code: TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_last_error_message: PAnsiChar; cdecl; external SignbridgeLib;
function signbridge_last_error_http_status: Integer; cdecl; external SignbridgeLib;
function signbridge_last_error_provider_message: PAnsiChar; cdecl; external SignbridgeLib;
function signbridge_last_error_handle: PAnsiChar; cdecl; external SignbridgeLib;

procedure signbridge_string_free(Text: PAnsiChar); cdecl; external SignbridgeLib;
procedure signbridge_bytes_free(Bytes: Pointer; Len: TSignbridgeSize); cdecl; external SignbridgeLib;

function signbridge_set_host_signer(Client: PSignbridgeClient; Callback: TSignbridgeSignCallback;
  UserData: Pointer): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_set_software_signer_pem(Client: PSignbridgeClient; CertificatePem: PAnsiChar;
  PrivateKeyPem: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_set_software_signer_pkcs12(Client: PSignbridgeClient; Pkcs12: Pointer;
  Len: TSignbridgeSize; Password: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_sign_reply_set_cms(Reply: PSignbridgeSignReply; Cms: Pointer;
  Len: TSignbridgeSize): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_sign_reply_set_error(Reply: PSignbridgeSignReply;
  Message: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;

{ Events are handed out until acknowledged; an event not acknowledged comes again after a
  restart (a new client or receiver on the same journal). }
function signbridge_ack_event(Client: PSignbridgeClient;
  EventId: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;

{ Webhook intake for hosts with their own web server: hand each request to
  signbridge_webhook_ingest and answer the sender with the status and reply it gives. }
function signbridge_receiver_new(ConfigJson: PAnsiChar;
  out Receiver: PSignbridgeReceiver): TSignbridgeResult; cdecl; external SignbridgeLib;
procedure signbridge_receiver_free(Receiver: PSignbridgeReceiver); cdecl; external SignbridgeLib;
{ Body may be nil when BodyLen is 0. Status is the HTTP status to answer; ReplyJson is a
  JSON object with "headers" (an array of [name, value]) and "body" (a string). }
function signbridge_webhook_ingest(Receiver: PSignbridgeReceiver; Source, Account, Method,
  HeadersJson: PAnsiChar; Body: Pointer; BodyLen: TSignbridgeSize; out Status: Integer;
  out ReplyJson: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_receiver_next_event(Receiver: PSignbridgeReceiver; TimeoutMs: Cardinal;
  out EventJson: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_receiver_ack_event(Receiver: PSignbridgeReceiver;
  EventId: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;

{ The embeddable listener: signbridge's own HTTP server for webhooks in this process
  (POST /webhooks/<source>/<account>, GET /health) with the SINtegre download worker.
  Address is http://HOST:PORT (free it with signbridge_string_free). Stop waits for the
  deliveries and the download in flight, then frees the listener. }
function signbridge_listener_start(ConfigJson: PAnsiChar;
  out Listener: PSignbridgeListener): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_listener_address(Listener: PSignbridgeListener;
  out Address: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_listener_next_event(Listener: PSignbridgeListener; TimeoutMs: Cardinal;
  out EventJson: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
function signbridge_listener_ack_event(Listener: PSignbridgeListener;
  EventId: PAnsiChar): TSignbridgeResult; cdecl; external SignbridgeLib;
procedure signbridge_listener_stop(Listener: PSignbridgeListener); cdecl; external SignbridgeLib;

type
  { A failed signbridge call, with everything the library said about it. }
  ESignbridgeError = class(Exception)
  private
    FCode: TSignbridgeResult;
    FHttpStatus: Integer;
    FProviderMessage: string;
    FHandleJson: UTF8String;
  public
    { Reads the calling thread's last error; call it right after the failed call. }
    constructor CreateFromLastError(Code: TSignbridgeResult);
    { A SIGNBRIDGE_RESULT_* code. }
    property Code: TSignbridgeResult read FCode;
    { HTTP status of the provider's answer, 0 when there was none. }
    property HttpStatus: Integer read FHttpStatus;
    { The provider's (or host signer's) own message, '' when there was none. }
    property ProviderMessage: string read FProviderMessage;
    { The handle JSON of a document the failure concerns (e.g. after OUTCOME_UNKNOWN), or ''. }
    property HandleJson: UTF8String read FHandleJson;
  end;

{ Raises ESignbridgeError unless Code is SIGNBRIDGE_RESULT_OK. }
procedure SignbridgeCheck(Code: TSignbridgeResult);
{ Copies a string the library returned through an out-parameter, then frees it. }
function SignbridgeTakeString(P: PAnsiChar): UTF8String;
{ A UTF-8 string the library owns (version, last error) as a Pascal string. }
function SignbridgeToString(P: PAnsiChar): string;

implementation

{ The bytes at P as a UTF-8 string, copied as they are: a plain UTF8String(P) cast would treat
  P as text in the system code page and convert it. }
function Utf8At(P: PAnsiChar): UTF8String;
var
  Len: Integer;
begin
  Result := '';
  if P = nil then
    Exit;
  { Counted here: StrLen for PAnsiChar moved between units across Delphi versions. }
  Len := 0;
  while P[Len] <> #0 do
    Inc(Len);
  SetLength(Result, Len);
  if Len > 0 then
    Move(P^, Result[1], Len);
end;

function SignbridgeToString(P: PAnsiChar): string;
var
  Utf8: UTF8String;
begin
  Utf8 := Utf8At(P);
  {$IFDEF FPC}
  Result := string(Utf8);
  {$ELSE}
  Result := UTF8ToString(Utf8);
  {$ENDIF}
end;

function SignbridgeTakeString(P: PAnsiChar): UTF8String;
begin
  Result := Utf8At(P);
  signbridge_string_free(P);
end;

constructor ESignbridgeError.CreateFromLastError(Code: TSignbridgeResult);
begin
  inherited Create(SignbridgeToString(signbridge_last_error_message));
  FCode := Code;
  FHttpStatus := signbridge_last_error_http_status;
  FProviderMessage := SignbridgeToString(signbridge_last_error_provider_message);
  FHandleJson := Utf8At(signbridge_last_error_handle);
end;

procedure SignbridgeCheck(Code: TSignbridgeResult);
begin
  if Code <> SIGNBRIDGE_RESULT_OK then
    raise ESignbridgeError.CreateFromLastError(Code);
end;

end.
