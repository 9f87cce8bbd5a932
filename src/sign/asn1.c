/* SPDX-License-Identifier: Apache-2.0 */
/* The Authenticode ASN.1 types, declared with OpenSSL's templates. */
#include "sign/internal.h"

ASN1_CHOICE(nxp_SpcString) = {
	ASN1_IMP_OPT(nxp_SpcString, value.unicode, ASN1_BMPSTRING, 0),
	ASN1_IMP_OPT(nxp_SpcString, value.ascii, ASN1_IA5STRING, 1)
} ASN1_CHOICE_END(nxp_SpcString)
IMPLEMENT_ASN1_FUNCTIONS(nxp_SpcString)

ASN1_SEQUENCE(nxp_SpcSerializedObject) = {
	ASN1_SIMPLE(nxp_SpcSerializedObject, classId, ASN1_OCTET_STRING),
	ASN1_SIMPLE(nxp_SpcSerializedObject, serializedData, ASN1_OCTET_STRING)
} ASN1_SEQUENCE_END(nxp_SpcSerializedObject)
IMPLEMENT_ASN1_FUNCTIONS(nxp_SpcSerializedObject)

ASN1_CHOICE(nxp_SpcLink) = {
	ASN1_IMP_OPT(nxp_SpcLink, value.url, ASN1_IA5STRING, 0),
	ASN1_IMP_OPT(nxp_SpcLink, value.moniker, nxp_SpcSerializedObject, 1),
	ASN1_EXP_OPT(nxp_SpcLink, value.file, nxp_SpcString, 2)
} ASN1_CHOICE_END(nxp_SpcLink)
IMPLEMENT_ASN1_FUNCTIONS(nxp_SpcLink)

ASN1_SEQUENCE(nxp_SpcPeImageData) = {
	ASN1_SIMPLE(nxp_SpcPeImageData, flags, ASN1_BIT_STRING),
	ASN1_EXP_OPT(nxp_SpcPeImageData, file, nxp_SpcLink, 0)
} ASN1_SEQUENCE_END(nxp_SpcPeImageData)
IMPLEMENT_ASN1_FUNCTIONS(nxp_SpcPeImageData)

ASN1_SEQUENCE(nxp_SpcAttributeTypeAndOptionalValue) = {
	ASN1_SIMPLE(nxp_SpcAttributeTypeAndOptionalValue, type, ASN1_OBJECT),
	ASN1_OPT(nxp_SpcAttributeTypeAndOptionalValue, value, ASN1_ANY)
} ASN1_SEQUENCE_END(nxp_SpcAttributeTypeAndOptionalValue)
IMPLEMENT_ASN1_FUNCTIONS(nxp_SpcAttributeTypeAndOptionalValue)

ASN1_SEQUENCE(nxp_DigestInfo) = {
	ASN1_SIMPLE(nxp_DigestInfo, digestAlgorithm, X509_ALGOR),
	ASN1_SIMPLE(nxp_DigestInfo, digest, ASN1_OCTET_STRING)
} ASN1_SEQUENCE_END(nxp_DigestInfo)
IMPLEMENT_ASN1_FUNCTIONS(nxp_DigestInfo)

ASN1_SEQUENCE(nxp_SpcIndirectDataContent) = {
	ASN1_SIMPLE(nxp_SpcIndirectDataContent, data, nxp_SpcAttributeTypeAndOptionalValue),
	ASN1_SIMPLE(nxp_SpcIndirectDataContent, messageDigest, nxp_DigestInfo)
} ASN1_SEQUENCE_END(nxp_SpcIndirectDataContent)
IMPLEMENT_ASN1_FUNCTIONS(nxp_SpcIndirectDataContent)

ASN1_SEQUENCE(nxp_SpcSpOpusInfo) = {
	ASN1_EXP_OPT(nxp_SpcSpOpusInfo, programName, nxp_SpcString, 0),
	ASN1_EXP_OPT(nxp_SpcSpOpusInfo, moreInfo, nxp_SpcLink, 1)
} ASN1_SEQUENCE_END(nxp_SpcSpOpusInfo)
IMPLEMENT_ASN1_FUNCTIONS(nxp_SpcSpOpusInfo)

ASN1_SEQUENCE(nxp_SpcStatementType) = {
	ASN1_SIMPLE(nxp_SpcStatementType, type, ASN1_OBJECT)
} ASN1_SEQUENCE_END(nxp_SpcStatementType)
IMPLEMENT_ASN1_FUNCTIONS(nxp_SpcStatementType)
