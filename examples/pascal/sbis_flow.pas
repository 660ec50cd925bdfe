{ The SBIS / Saby EDO flow through signbridge's C ABI from Free Pascal, against the sandbox:
  send a contract (by path) to the counterparty named by its ИНН/КПП, with every file SBIS
  prepares signed by the library's software signer from a PEM key and certificate (a host
  without a crypto provider of its own; one with CryptoPro registers signbridge_set_host_signer
  instead), let the counterparty approve it through the sandbox's control routes (fphttpclient,
  used for nothing else), poll the status, read the document as SBIS gives it, and download the
  file as sent.

    SIGNBRIDGE_SBIS_PASSWORD=sandbox-secret sbis_flow SANDBOX_URL OUT_DIR KEY_PEM CERT_PEM

  The password comes from the environment, as secrets should.
  Build: fpc -Fuinclude -Fltarget/debug examples/pascal/sbis_flow.pas }
program sbis_flow;

{$mode delphi}{$H+}{$codepage utf8}

uses
  {$IFDEF UNIX}cwstring,{$ENDIF}
  SysUtils, Classes, fphttpclient, fpjson, jsonparser, signbridge;

const
  { Cyrillic on purpose: the test script checks that the sandbox received these exact
    characters, which only holds when the source is read as UTF-8 ($codepage utf8) and the
    text stays in UTF8String all the way to the library. }
  Title: UTF8String = 'Договор поставки № 17 «Премьер» (Паскаль)';
  CounterpartyName: UTF8String = 'ОАО «СК Премьер» — отдел ЭДО';
  CounterpartyTaxId: UTF8String = '7601000985/760601001';

procedure Fail(const Message: string);
begin
  WriteLn(StdErr, 'sbis_flow: ', Message);
  Halt(1);
end;

{ A JSON string literal of S. }
function JsonString(const S: UTF8String): UTF8String;
var
  I: Integer;
begin
  Result := '"';
  for I := 1 to Length(S) do
    case S[I] of
      '"', '\': Result := Result + '\' + S[I];
      #0..#31: Result := Result + UTF8String(Format('\u%.4x', [Ord(S[I])]));
    else
      Result := Result + S[I];
    end;
  Result := Result + '"';
end;

{ A one-page PDF with correct cross-reference offsets. }
function MakePdf: RawByteString;
const
  Stream = 'BT /F1 18 Tf 72 770 Td (Contrato de prestacao de servicos) Tj ET';
var
  Objects: array[1..5] of RawByteString;
  Offsets: array[1..5] of Integer;
  I, Xref: Integer;
begin
  Objects[1] := '<< /Type /Catalog /Pages 2 0 R >>';
  Objects[2] := '<< /Type /Pages /Kids [3 0 R] /Count 1 >>';
  Objects[3] := '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R ' +
    '/Resources << /Font << /F1 5 0 R >> >> >>';
  Objects[4] := Format('<< /Length %d >>'#10'stream'#10'%s'#10'endstream', [Length(Stream), Stream]);
  Objects[5] := '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>';
  Result := '%PDF-1.4'#10;
  for I := 1 to 5 do
  begin
    Offsets[I] := Length(Result);
    Result := Result + Format('%d 0 obj'#10'%s'#10'endobj'#10, [I, Objects[I]]);
  end;
  Xref := Length(Result);
  Result := Result + 'xref'#10'0 6'#10'0000000000 65535 f '#10;
  for I := 1 to 5 do
    Result := Result + Format('%.10d 00000 n '#10, [Offsets[I]]);
  Result := Result + Format('trailer'#10'<< /Size 6 /Root 1 0 R >>'#10'startxref'#10'%d'#10'%%%%EOF'#10, [Xref]);
end;

procedure WriteFile(const Path: string; const Bytes: RawByteString);
var
  F: TFileStream;
begin
  F := TFileStream.Create(Path, fmCreate);
  try
    F.WriteBuffer(Bytes[1], Length(Bytes));
  finally
    F.Free;
  end;
end;

{ A string field of a JSON object. }
function JsonField(const Json, Path: UTF8String): UTF8String;
var
  Data: TJSONData;
begin
  Data := GetJSON(Json);
  try
    Result := Data.FindPath(Path).AsString;
  finally
    Data.Free;
  end;
end;

{ A whole text file (a PEM key or certificate). }
function ReadText(const Path: string): UTF8String;
var
  F: TFileStream;
begin
  F := TFileStream.Create(Path, fmOpenRead);
  try
    SetLength(Result, F.Size);
    if F.Size > 0 then
      F.ReadBuffer(Result[1], F.Size);
  finally
    F.Free;
  end;
end;

{ In production the counterparty approves in its own SBIS account; here a sandbox route. }
procedure SandboxApprove(const Base, Id: UTF8String);
var
  Http: TFPHTTPClient;
  Body: UTF8String;
  Url: string;
begin
  Url := string(Base + '/__sandbox/sbis/documents/' + Id + '/counterparty-sign');
  Body := '{}';
  Http := TFPHTTPClient.Create(nil);
  try
    Http.AddHeader('Content-Type', 'application/json');
    Http.RequestBody := TMemoryStream.Create;
    Http.RequestBody.WriteBuffer(Body[1], Length(Body));
    Http.RequestBody.Position := 0;
    Http.Post(Url);
    if Http.ResponseStatusCode div 100 <> 2 then
      Fail(Format('POST %s answered HTTP %d', [Url, Http.ResponseStatusCode]));
  finally
    Http.RequestBody.Free;
    Http.Free;
  end;
end;

{ Polls the status until its state is Want; fails on a dead end or after 30 s. }
procedure WaitForState(Client: PSignbridgeClient; const Handle, Want: UTF8String);
var
  Attempt: Integer;
  Status: PAnsiChar;
  State: UTF8String;
begin
  for Attempt := 1 to 300 do
  begin
    SignbridgeCheck(signbridge_status(Client, PAnsiChar(Handle), Status));
    State := JsonField(SignbridgeTakeString(Status), 'state');
    if State = Want then
      Exit;
    if (State = 'rejected') or (State = 'cancelled') then
      Fail('document stopped at ' + string(State));
    Sleep(100);
  end;
  Fail('document did not reach ' + string(Want) + ' within 30 s');
end;

var
  Base, OutDir, Config, Envelope, Handle, Id, Args, Document, OriginalPath, Key: UTF8String;
  PdfPath: string;
  Client: PSignbridgeClient;
  Out: PAnsiChar;
  Original: TFileStream;
  Size: Int64;
begin
  if ParamCount <> 4 then
  begin
    WriteLn(StdErr, 'usage: sbis_flow SANDBOX_URL OUT_DIR KEY_PEM CERT_PEM');
    Halt(2);
  end;
  if GetEnvironmentVariable('SIGNBRIDGE_SBIS_PASSWORD') = '' then
    Fail('set SIGNBRIDGE_SBIS_PASSWORD (the sandbox''s is sandbox-secret)');
  Base := UTF8String(ParamStr(1));
  OutDir := UTF8String(ParamStr(2));
  if signbridge_abi_version <> SIGNBRIDGE_UNIT_ABI_VERSION then
    Fail(Format('library ABI %d, unit ABI %d', [signbridge_abi_version, SIGNBRIDGE_UNIT_ABI_VERSION]));
  WriteLn('signbridge ', SignbridgeToString(signbridge_version), ', Free Pascal example, SBIS at ', Base);

  Client := nil;
  try
    Config := '{"provider":"sbis","settings":{"auth_url":' +
      JsonString(Base + '/sbis/auth/service/') + ',"service_url":' +
      JsonString(Base + '/sbis/service/?srv=1') +
      ',"login":"sandbox","our_inn":"7700000001","our_kpp":"770001001"}}';
    SignbridgeCheck(signbridge_client_new(PAnsiChar(Config), Client));
    { The library copies the PEM text: the key is wiped here at once. }
    Key := ReadText(ParamStr(3));
    try
      SignbridgeCheck(signbridge_set_software_signer_pem(Client,
        PAnsiChar(ReadText(ParamStr(4))), PAnsiChar(Key)));
    finally
      if Length(Key) > 0 then
        FillChar(Key[1], Length(Key), 0);
    end;

    PdfPath := IncludeTrailingPathDelimiter(string(OutDir)) + 'dogovor-pascal.pdf';
    WriteFile(PdfPath, MakePdf);
    Envelope := '{"reference":"PASCAL-SBIS-' + UTF8String(IntToStr(GetProcessID)) +
      '","title":' + JsonString(Title) +
      ',"documents":[{"path":' + JsonString(UTF8String(PdfPath)) + '}],"parties":[' +
      '{"name":' + JsonString(CounterpartyName) + ',"email":"edo@premier.example"' +
      ',"tax_id":' + JsonString(CounterpartyTaxId) + ',"role":"sign"}]}';
    SignbridgeCheck(signbridge_send(Client, PAnsiChar(Envelope), Out));
    Handle := SignbridgeTakeString(Out);
    Id := JsonField(Handle, 'id');
    WriteLn('sent "', Title, '" as sbis document ', Id);
    WaitForState(Client, Handle, 'sent');

    SandboxApprove(Base, Id);
    WaitForState(Client, Handle, 'completed');
    WriteLn(CounterpartyName, ' approved: completed');

    { The document as SBIS gives it (a provider call): the title came back as it went. }
    Args := '{"id":' + JsonString(Id) + '}';
    SignbridgeCheck(signbridge_call(Client, 'read', PAnsiChar(Args), Out));
    Document := SignbridgeTakeString(Out);
    if JsonField(Document, 'Примечание') <> Title then
      Fail('SBIS gives the title back as ' + string(JsonField(Document, 'Примечание')));

    OriginalPath := UTF8String(IncludeTrailingPathDelimiter(string(OutDir))) +
      'dogovor-' + Id + '-pascal.pdf';
    SignbridgeCheck(signbridge_download_to_file(Client, PAnsiChar(Handle), 'original',
      PAnsiChar(OriginalPath)));
    Original := TFileStream.Create(string(OriginalPath), fmOpenRead);
    try
      Size := Original.Size;
    finally
      Original.Free;
    end;
    if Size <> Length(MakePdf) then
      Fail(string(OriginalPath) + ' is not the file as sent');
    WriteLn('original: ', OriginalPath, ' (', Size, ' bytes)');
  except
    on E: ESignbridgeError do
      Fail(Format('signbridge error %d (HTTP %d): %s; provider: "%s"',
        [E.Code, E.HttpStatus, E.Message, E.ProviderMessage]));
  end;
  signbridge_client_free(Client);
end.
