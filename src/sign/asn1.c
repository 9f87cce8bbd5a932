/* SPDX-License-Identifier: Apache-2.0 */
/* The Authenticode ASN.1 types, declared with OpenSSL's templates. */
#include "sign/internal.h"

ASN1_CHOICE(nxpi_SpcString) = {
	ASN1_IMP_OPT(nxpi_SpcString, value.unicode, ASN1_BMPSTRING, 0),
	ASN1_IMP_OPT(nxpi_SpcString, value.ascii, ASN1_IA5STRING, 1)
} ASN1_CHOICE_END(nxpi_SpcString)
IMPLEMENT_ASN1_FUNCTIONS(nxpi_SpcString)

ASN1_SEQUENCE(nxpi_SpcSerializedObject) = {
	ASN1_SIMPLE(nxpi_SpcSerializedObject, classId, ASN1_OCTET_STRING),
	ASN1_SIMPLE(nxpi_SpcSerializedObject, serializedData, ASN1_OCTET_STRING)
} ASN1_SEQUENCE_END(nxpi_SpcSerializedObject)
IMPLEMENT_ASN1_FUNCTIONS(nxpi_SpcSerializedObject)

ASN1_CHOICE(nxpi_SpcLink) = {
	ASN1_IMP_OPT(nxpi_SpcLink, value.url, ASN1_IA5STRING, 0),
	ASN1_IMP_OPT(nxpi_SpcLink, value.moniker, nxpi_SpcSerializedObject, 1),
	ASN1_EXP_OPT(nxpi_SpcLink, value.file, nxpi_SpcString, 2)
} ASN1_CHOICE_END(nxpi_SpcLink)
IMPLEMENT_ASN1_FUNCTIONS(nxpi_SpcLink)

ASN1_SEQUENCE(nxpi_SpcPeImageData) = {
	ASN1_SIMPLE(nxpi_SpcPeImageData, flags, ASN1_BIT_STRING),
	ASN1_EXP_OPT(nxpi_SpcPeImageData, file, nxpi_SpcLink, 0)
} ASN1_SEQUENCE_END(nxpi_SpcPeImageData)
IMPLEMENT_ASN1_FUNCTIONS(nxpi_SpcPeImageData)

ASN1_SEQUENCE(nxpi_SpcAttributeTypeAndOptionalValue) = {
	ASN1_SIMPLE(nxpi_SpcAttributeTypeAndOptionalValue, type, ASN1_OBJECT),
	ASN1_OPT(nxpi_SpcAttributeTypeAndOptionalValue, value, ASN1_ANY)
} ASN1_SEQUENCE_END(nxpi_SpcAttributeTypeAndOptionalValue)
IMPLEMENT_ASN1_FUNCTIONS(nxpi_SpcAttributeTypeAndOptionalValue)

ASN1_SEQUENCE(nxpi_DigestInfo) = {
	ASN1_SIMPLE(nxpi_DigestInfo, digestAlgorithm, X509_ALGOR),
	ASN1_SIMPLE(nxpi_DigestInfo, digest, ASN1_OCTET_STRING)
} ASN1_SEQUENCE_END(nxpi_DigestInfo)
IMPLEMENT_ASN1_FUNCTIONS(nxpi_DigestInfo)

ASN1_SEQUENCE(nxpi_SpcIndirectDataContent) = {
	ASN1_SIMPLE(nxpi_SpcIndirectDataContent, data, nxpi_SpcAttributeTypeAndOptionalValue),
	ASN1_SIMPLE(nxpi_SpcIndirectDataContent, messageDigest, nxpi_DigestInfo)
} ASN1_SEQUENCE_END(nxpi_SpcIndirectDataContent)
IMPLEMENT_ASN1_FUNCTIONS(nxpi_SpcIndirectDataContent)

ASN1_SEQUENCE(nxpi_SpcSpOpusInfo) = {
	ASN1_EXP_OPT(nxpi_SpcSpOpusInfo, programName, nxpi_SpcString, 0),
	ASN1_EXP_OPT(nxpi_SpcSpOpusInfo, moreInfo, nxpi_SpcLink, 1)
} ASN1_SEQUENCE_END(nxpi_SpcSpOpusInfo)
IMPLEMENT_ASN1_FUNCTIONS(nxpi_SpcSpOpusInfo)

ASN1_SEQUENCE(nxpi_SpcStatementType) = {
	ASN1_SIMPLE(nxpi_SpcStatementType, type, ASN1_OBJECT)
} ASN1_SEQUENCE_END(nxpi_SpcStatementType)
IMPLEMENT_ASN1_FUNCTIONS(nxpi_SpcStatementType)
