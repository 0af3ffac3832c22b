/*
 * account.c
 *		SQL boundary of account administration: qr_event.create_account checks
 *		its arguments, hashes the password (password.c) and inserts the row
 *		through SPI; qr_event.verify_password checks a password against a
 *		stored hash.  Every user-caused error is raised here.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "parser/scansup.h"
#include "utils/builtins.h"

#include "guc.h"
#include "password.h"

#define EMAIL_MAX_CHARS			254
#define EMAIL_LOCAL_MAX_CHARS	64
#define DISPLAY_NAME_MAX_CHARS	200
#define PASSWORD_MAX_CHARS		1024

PG_FUNCTION_INFO_V1(qr_event_create_account);
PG_FUNCTION_INFO_V1(qr_event_verify_password);

/* Returns text argument argno as a C string; SQL NULL is an error */
static char *
RequiredTextArgument(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/* Cuts leading and trailing white space off str, in place */
static char *
TrimWhitespace(char *str)
{
	char	   *end;

	while (scanner_isspace(*str))
		str++;
	end = str + strlen(str);
	while (end > str && scanner_isspace(end[-1]))
		end--;
	*end = '\0';
	return str;
}

/* Whether email is local@domain within the lengths of the accounts table */
static bool
EmailIsValid(const char *email)
{
	const char *at = strchr(email, '@');
	const unsigned char *p;

	if (at == NULL || at == email || at[1] == '\0' || strchr(at + 1, '@') != NULL)
		return false;
	if (pg_mbstrlen_with_len(email, at - email) > EMAIL_LOCAL_MAX_CHARS ||
		pg_mbstrlen(email) > EMAIL_MAX_CHARS)
		return false;
	for (p = (const unsigned char *) email; *p != '\0'; p++)
	{
		if (*p <= ' ' || *p == 0x7f)
			return false;
	}
	return true;
}

/* Raises 22023 unless email is acceptable */
static void
CheckEmail(const char *email)
{
	if (!EmailIsValid(email))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid email address: \"%s\"", email),
				 errdetail("An email address has one \"@\" with text on both sides, "
						   "at most %d characters before it and %d in all, "
						   "and no spaces or control characters.",
						   EMAIL_LOCAL_MAX_CHARS, EMAIL_MAX_CHARS)));
}

/* Raises 22023 unless the password length is within the limits */
static void
CheckPassword(const char *password)
{
	int			chars = pg_mbstrlen(password);

	if (chars < qr_event_min_password_length)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("password is too short"),
				 errdetail("The password has %d characters; "
						   "qr_event.min_password_length requires at least %d.",
						   chars, qr_event_min_password_length)));
	if (chars > PASSWORD_MAX_CHARS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("password is too long"),
				 errdetail("The password has %d characters; the limit is %d.",
						   chars, PASSWORD_MAX_CHARS)));
}

/* Raises 22023 if the (trimmed) display name is blank or too long */
static void
CheckDisplayName(const char *display_name)
{
	int			chars = pg_mbstrlen(display_name);

	if (chars == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("display name must not be blank")));
	if (chars > DISPLAY_NAME_MAX_CHARS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("display name is too long"),
				 errdetail("The display name has %d characters; the limit is %d.",
						   chars, DISPLAY_NAME_MAX_CHARS)));
}

/* Raises 22023 unless tier is one of the service tiers */
static void
CheckTier(const char *tier)
{
	if (strcmp(tier, "standard") != 0 && strcmp(tier, "premium") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid tier: \"%s\"", tier),
				 errhint("The tier is \"standard\" or \"premium\".")));
}

/* Raises the duplicate-email error, found before or during the insert */
static void
ReportEmailTaken(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNIQUE_VIOLATION),
			 errmsg("account with this email already exists"),
			 errdetail("Email addresses are compared without regard to case.")));
}

/* Whether an account already uses email in any letter case */
static bool
EmailIsTaken(const char *email)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	int			ret;

	values[0] = CStringGetTextDatum(email);
	ret = SPI_execute_with_args("SELECT FROM qr_event.accounts"
								" WHERE pg_catalog.lower(email)"
								" OPERATOR(pg_catalog.=) pg_catalog.lower($1)",
								1, argtypes, values, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	return SPI_processed > 0;
}

/* Returns the stored form of password, raising on failure */
static char *
HashPassword(const char *password)
{
	char	   *hash = NULL;

	switch (PasswordHash(password, strlen(password),
						 qr_event_password_iterations, &hash))
	{
		case PASSWORD_OK:
			break;
		case PASSWORD_NO_RANDOM:
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate a random salt")));
			break;
		case PASSWORD_KDF_FAILED:
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not hash the password")));
			break;
	}
	return hash;
}

/*
 * Inserts the account and returns its id.  ON CONFLICT makes a concurrent
 * insert of the same email wait for the other transaction and then come back
 * without a row, which is reported like the duplicate found beforehand.
 */
static int64
InsertAccount(const char *email, const char *hash, const char *display_name,
			  const char *tier)
{
	Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	bool		isnull;
	int			ret;

	values[0] = CStringGetTextDatum(email);
	values[1] = CStringGetTextDatum(hash);
	values[2] = CStringGetTextDatum(display_name);
	values[3] = CStringGetTextDatum(tier);
	ret = SPI_execute_with_args("INSERT INTO qr_event.accounts"
								" (email, password_hash, display_name, tier)"
								" VALUES ($1, $2, $3, $4)"
								" ON CONFLICT ((pg_catalog.lower(email))) DO NOTHING"
								" RETURNING id",
								4, argtypes, values, NULL, false, 0);
	if (ret != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		ReportEmailTaken();
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * qr_event.create_account(email, password, display_name, tier): the new
 * account's id.  The duplicate check comes before hashing so that a taken
 * email does not cost the PBKDF2 work.
 */
Datum
qr_event_create_account(PG_FUNCTION_ARGS)
{
	char	   *email = TrimWhitespace(RequiredTextArgument(fcinfo, 0, "email"));
	char	   *password = RequiredTextArgument(fcinfo, 1, "password");
	char	   *display_name = TrimWhitespace(RequiredTextArgument(fcinfo, 2, "display_name"));
	char	   *tier = RequiredTextArgument(fcinfo, 3, "tier");
	int64		id;

	CheckEmail(email);
	CheckPassword(password);
	CheckDisplayName(display_name);
	CheckTier(tier);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (EmailIsTaken(email))
		ReportEmailTaken();
	id = InsertAccount(email, HashPassword(password), display_name, tier);
	SPI_finish();

	PG_RETURN_INT64(id);
}

/*
 * qr_event.verify_password(password, password_hash): whether the password
 * matches the stored hash; false for a malformed hash or a NULL password.  A
 * NULL hash (no account has the email asked for) still costs one derivation
 * of qr_event.password_iterations rounds, against a fixed dummy hash, and
 * answers false: a sign-in then takes as long for an unknown email as for a
 * known one whose hash has the current iteration count.
 */
Datum
qr_event_verify_password(PG_FUNCTION_ARGS)
{
	text	   *password;
	PasswordStatus status;
	bool		match = false;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	password = PG_GETARG_TEXT_PP(0);
	if (PG_ARGISNULL(1))
		status = PasswordDummyVerify(VARDATA_ANY(password), VARSIZE_ANY_EXHDR(password),
									 qr_event_password_iterations);
	else
		status = PasswordVerify(VARDATA_ANY(password), VARSIZE_ANY_EXHDR(password),
								text_to_cstring(PG_GETARG_TEXT_PP(1)), &match);
	if (status != PASSWORD_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not verify the password")));
	PG_RETURN_BOOL(match);
}
