{ The whole TOTVS Assinatura Eletrônica flow through signbridge's C ABI from Free Pascal,
  against the sandbox: write a contract to a file and send it (by path) to two signers in
  order, make them sign through the sandbox's control routes (fphttpclient, used for nothing
  else), poll the status, take the events, download the signed PDF and print its path.

    SIGNBRIDGE_TAE_PASSWORD=sandbox-password tae_flow SANDBOX_URL OUT_DIR

  The password comes from the environment, as secrets should: signbridge_client_new reads
  SIGNBRIDGE_<PROVIDER>_<SETTING> variables into the settings.
  Build: fpc -Fuinclude -Fuexamples/pascal -Fltarget/debug examples/pascal/tae_flow.pas }
program tae_flow;

{$mode delphi}{$H+}{$codepage utf8}

uses
  {$IFDEF UNIX}cwstring,{$ENDIF}
  SysUtils, Classes, signbridge, example_support;

const
  { Portuguese on purpose: the test script checks that the sandbox received these exact
    characters, which only holds when the source is read as UTF-8 ($codepage utf8) and the
    text stays in UTF8String all the way to the library. }
  Title: UTF8String = 'Contrato de prestação de serviços';
  SignerNames: array[0..1] of UTF8String = ('João Araújo', 'Maria da Conceição Souza');
  SignerEmails: array[0..1] of UTF8String = ('joao.araujo@cliente.example',
    'maria.souza@empresa.example');
  States: array[0..1] of UTF8String = ('partially_signed', 'completed');

{ In production the signer clicks a link in an e-mail; here the sandbox plays that part. }
procedure SandboxSign(const Base, Id, Email: UTF8String);
begin
  SandboxPost(string(Base + '/__sandbox/tae/documents/' + Id + '/sign'),
    '{"email":' + JsonString(Email) + '}');
end;

var
  Base, OutDir, Config, Envelope, Handle, Id, Event, SignedPath: UTF8String;
  PdfPath: string;
  Client: PSignbridgeClient;
  Out: PAnsiChar;
  Code: TSignbridgeResult;
  I, Events: Integer;
  Signed: TFileStream;
  Magic: array[0..3] of AnsiChar;
  Size: Int64;
begin
  ExampleName := 'tae_flow';
  if ParamCount <> 2 then
  begin
    WriteLn(StdErr, 'usage: tae_flow SANDBOX_URL OUT_DIR');
    Halt(2);
  end;
  if GetEnvironmentVariable('SIGNBRIDGE_TAE_PASSWORD') = '' then
    Fail('set SIGNBRIDGE_TAE_PASSWORD (the sandbox''s is sandbox-password)');
  Base := UTF8String(ParamStr(1));
  OutDir := UTF8String(ParamStr(2));
  if signbridge_abi_version <> SIGNBRIDGE_UNIT_ABI_VERSION then
    Fail(Format('library ABI %d, unit ABI %d', [signbridge_abi_version, SIGNBRIDGE_UNIT_ABI_VERSION]));
  WriteLn('signbridge ', SignbridgeToString(signbridge_version), ', Free Pascal example, sandbox at ', Base);

  Client := nil;
  try
    Config := '{"provider":"tae","settings":{"auth_base":' +
      JsonString(Base + '/tae/identityintegration') + ',"api_base":' +
      JsonString(Base + '/tae') + ',"username":"svc@signbridge.test"}}';
    SignbridgeCheck(signbridge_client_new(PAnsiChar(Config), Client));

    PdfPath := IncludeTrailingPathDelimiter(string(OutDir)) + 'contrato-pascal.pdf';
    WriteFile(PdfPath, MakePdf);
    Envelope := '{"reference":"PASCAL-EXAMPLE-' + UTF8String(IntToStr(GetProcessID)) +
      '","title":' + JsonString(Title) +
      ',"documents":[{"path":' + JsonString(UTF8String(PdfPath)) + '}],"parties":[' +
      '{"name":' + JsonString(SignerNames[0]) + ',"email":' + JsonString(SignerEmails[0]) +
      ',"role":"sign","order":1},' +
      '{"name":' + JsonString(SignerNames[1]) + ',"email":' + JsonString(SignerEmails[1]) +
      ',"role":"sign","order":2}],"sequential":true}';
    SignbridgeCheck(signbridge_send(Client, PAnsiChar(Envelope), Out));
    Handle := SignbridgeTakeString(Out);
    Id := JsonField(Handle, 'id');
    WriteLn('sent "', Title, '" as TAE document ', Id);

    for I := 0 to 1 do
    begin
      SandboxSign(Base, Id, SignerEmails[I]);
      WaitForState(Client, Handle, States[I]);
      WriteLn(SignerNames[I], ' signed: ', States[I]);
    end;

    { The polls above saw the changes; hosts take them as events. }
    Events := 0;
    repeat
      Code := signbridge_next_event(Client, 0, Out);
      if Code = SIGNBRIDGE_RESULT_OK then
      begin
        Event := SignbridgeTakeString(Out);
        WriteLn('event: ', JsonField(Event, 'kind'));
        Inc(Events);
      end
      else if Code <> SIGNBRIDGE_RESULT_NO_EVENT then
        SignbridgeCheck(Code);
    until Code = SIGNBRIDGE_RESULT_NO_EVENT;
    if Events = 0 then
      Fail('no events after the document changed state');

    SignedPath := UTF8String(IncludeTrailingPathDelimiter(string(OutDir))) +
      'contrato-' + Id + '-assinado-pascal.pdf';
    SignbridgeCheck(signbridge_download_to_file(Client, PAnsiChar(Handle), 'signed',
      PAnsiChar(SignedPath)));
    Signed := TFileStream.Create(string(SignedPath), fmOpenRead);
    try
      Size := Signed.Size;
      Signed.ReadBuffer(Magic, SizeOf(Magic));
    finally
      Signed.Free;
    end;
    if (Magic <> '%PDF') or (Size <= Length(MakePdf)) then
      Fail(string(SignedPath) + ' is not the signed PDF');
    WriteLn('signed PDF: ', SignedPath, ' (', Size, ' bytes)');
  except
    on E: ESignbridgeError do
      Fail(Format('signbridge error %d (HTTP %d): %s; provider: "%s"',
        [E.Code, E.HttpStatus, E.Message, E.ProviderMessage]));
  end;
  signbridge_client_free(Client);
end.
